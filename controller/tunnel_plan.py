"""Consistent updates from the installed tunnels to a decision's: make before break.

No frame may meet a rule or bucket that sends it where nothing is installed, so the messages go
in phases, each applied (barriers) before the next is sent:

1. new or changed tunnel rules that output to a port or pop the tag (transit hops without
   protection, backup tunnels' hops, egresses) and table-1 delivery rules: everything a
   bucket, a fast-failover group or a popped frame will need downstream;
2. fast-failover groups added or modified: both their buckets lead to rules phase 1 installed
   (a backup tunnel is in place before any group points at it);
3. new or changed transit rules through a fast-failover group: the group exists;
4. select groups added or modified: buckets now point only at tunnels (and fast-failover
   groups) in place;
5. classification rules added or changed: frames enter groups that exist;
6. classification rules removed;
7. select groups removed: no classification rule uses them any more;
8. tunnel rules removed that went through a fast-failover group;
9. fast-failover groups removed: no rule or bucket uses them any more (a switch deletes the
   rules that point at a group it deletes, so this must not come earlier);
10. the other tunnel rules no bucket or group uses any more (backup tunnels' among them), and
    stale delivery rules, removed.

A rule or select group whose form changes (a hop gaining or losing its fast-failover group) is
changed like one whose port or weights change. Empty phases are left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from controller import ofmsgs
from controller.splits import Message

if TYPE_CHECKING:
    from controller.tunnels import Desired


@dataclass
class Plan:
    """The phases of messages; the sender waits for barriers from a phase's switches before
    sending the next phase (not after the last)."""

    phases: list[list[Message]] = field(default_factory=list)

    @staticmethod
    def switches(phase) -> set[int]:
        return {dpid for dpid, _ in phase}

    def messages(self) -> list[Message]:
        return [message for phase in self.phases for message in phase]


def _tunnel_rule(label: int, out_port: int | None, protected: bool, epoch: int):
    if out_port is None:
        return ofmsgs.tunnel_egress_rule(label, epoch)
    if protected:
        return ofmsgs.tunnel_transit_to_group(label, epoch)
    return ofmsgs.tunnel_transit_rule(label, out_port, epoch)


def _rule_forms(desired: Desired) -> dict[tuple[int, int], tuple[int | None, bool]]:
    """Each tunnel rule as it is sent: its out port, and whether it goes through its hop's
    fast-failover group."""
    return {key: (port, port is not None and key in desired.protection)
            for key, port in desired.tunnel_rules.items()}


def _group_forms(desired: Desired) -> dict:
    """Each select group as it is sent: its buckets, and which of them go through a
    fast-failover group."""
    return {pair: (buckets, frozenset(spec[0] for spec in buckets
                                      if (pair[0], spec[0]) in desired.protection))
            for pair, buckets in desired.groups.items()}


def _classify_rule(mac: str, to: tuple[str, int], epoch: int):
    kind, where = to
    if kind == "group":
        return ofmsgs.classify_to_group(mac, where, epoch)
    return ofmsgs.classify_to_port(mac, where, epoch)


def plan_phases(installed: Desired, desired: Desired, epoch: int) -> Plan:
    """The phased messages taking the switches from `installed` to `desired`; new rules carry
    `epoch` in their cookie."""
    def added(old: dict, new: dict):
        return sorted((key, value) for key, value in new.items()
                      if key not in old or old[key] != value)

    def removed(old: dict, new: dict):
        return sorted(key for key in old if key not in new)

    old_rules, new_rules = _rule_forms(installed), _rule_forms(desired)
    rule_adds = added(old_rules, new_rules)
    plain_adds = [(dpid, _tunnel_rule(label, port, False, epoch))
                  for (dpid, label), (port, protected) in rule_adds if not protected]
    protected_adds = [(dpid, _tunnel_rule(label, port, True, epoch))
                      for (dpid, label), (port, protected) in rule_adds if protected]
    delivery_adds = [(dpid, ofmsgs.delivery_rule(mac, port, epoch))
                     for (dpid, mac), port in added(installed.delivery, desired.delivery)]
    ff_mods = [(dpid, (ofmsgs.ff_group_modify if (dpid, label) in installed.protection
                       else ofmsgs.ff_group_add)(label, spec))
               for (dpid, label), spec in added(installed.protection, desired.protection)]
    group_mods = [(ingress, (ofmsgs.group_modify if (ingress, egress) in installed.groups
                             else ofmsgs.group_add)(egress, buckets, protected))
                  for (ingress, egress), (buckets, protected)
                  in added(_group_forms(installed), _group_forms(desired))]
    classify_adds = [(dpid, _classify_rule(mac, to, epoch))
                     for (dpid, mac), to in added(installed.classify, desired.classify)]
    classify_removals = [(dpid, ofmsgs.delete_classify_rule(mac))
                         for dpid, mac in removed(installed.classify, desired.classify)]
    group_removals = [(ingress, ofmsgs.group_delete(egress))
                      for ingress, egress in removed(installed.groups, desired.groups)]
    gone_rules = removed(installed.tunnel_rules, desired.tunnel_rules)
    protected_removals = [(dpid, ofmsgs.delete_tunnel_rule(label)) for dpid, label in gone_rules
                          if old_rules[(dpid, label)][1]]
    ff_removals = [(dpid, ofmsgs.ff_group_delete(label))
                   for dpid, label in removed(installed.protection, desired.protection)]
    cleanup = [(dpid, ofmsgs.delete_tunnel_rule(label)) for dpid, label in gone_rules
               if not old_rules[(dpid, label)][1]]
    cleanup += [(dpid, ofmsgs.delete_delivery_rule(mac))
                for dpid, mac in removed(installed.delivery, desired.delivery)]
    phases = [plain_adds + delivery_adds, ff_mods, protected_adds, group_mods, classify_adds,
              classify_removals, group_removals, protected_removals, ff_removals, cleanup]
    return Plan([phase for phase in phases if phase])

