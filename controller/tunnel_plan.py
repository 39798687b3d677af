"""Consistent updates from the installed tunnels to a decision's: make before break.

No frame may meet a rule or bucket that sends it where nothing is installed, so the messages go
in phases, each applied (barriers) before the next is sent:

1. new or changed tunnel rules (transit and egress) and table-1 delivery rules: everything a
   bucket or a popped frame will need downstream;
2. select groups added or modified: buckets now point only at tunnels phase 1 installed;
3. classification rules added or changed: frames enter groups that exist;
4. classification rules removed;
5. groups removed: no classification rule uses them any more;
6. tunnel rules no bucket uses any more, and stale delivery rules, removed.

Empty phases are left out.
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


def _tunnel_rule(label: int, out_port: int | None, epoch: int):
    if out_port is None:
        return ofmsgs.tunnel_egress_rule(label, epoch)
    return ofmsgs.tunnel_transit_rule(label, out_port, epoch)


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

    tunnel_adds = [(dpid, _tunnel_rule(label, port, epoch))
                   for (dpid, label), port in added(installed.tunnel_rules, desired.tunnel_rules)]
    delivery_adds = [(dpid, ofmsgs.delivery_rule(mac, port, epoch))
                     for (dpid, mac), port in added(installed.delivery, desired.delivery)]
    group_mods = [(ingress, (ofmsgs.group_modify if (ingress, egress) in installed.groups
                             else ofmsgs.group_add)(egress, buckets))
                  for (ingress, egress), buckets in added(installed.groups, desired.groups)]
    classify_adds = [(dpid, _classify_rule(mac, to, epoch))
                     for (dpid, mac), to in added(installed.classify, desired.classify)]
    classify_removals = [(dpid, ofmsgs.delete_classify_rule(mac))
                         for dpid, mac in removed(installed.classify, desired.classify)]
    group_removals = [(ingress, ofmsgs.group_delete(egress))
                      for ingress, egress in removed(installed.groups, desired.groups)]
    cleanup = [(dpid, ofmsgs.delete_tunnel_rule(label))
               for dpid, label in removed(installed.tunnel_rules, desired.tunnel_rules)]
    cleanup += [(dpid, ofmsgs.delete_delivery_rule(mac))
                for dpid, mac in removed(installed.delivery, desired.delivery)]
    phases = [tunnel_adds + delivery_adds, group_mods, classify_adds, classify_removals,
              group_removals, cleanup]
    return Plan([phase for phase in phases if phase])
