"""Turn routing decisions into ordered flow-mods: make before break.

A flow is a (src_mac, dst_mac) host pair. Its rules are hops: (dpid, out_port) for each switch
on its path, the last one pointing at the destination host's port. When a path changes, the
new rules go in from the egress switch back to the ingress, so that by the time the ingress
switch sends packets the new way every switch downstream already knows the flow; rules left
only on the old path are deleted last.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from controller import ofmsgs
from controller.netstate import HostLocation, LinkPorts

Hop = tuple[int, int]
FlowKey = tuple[str, str]


def hops_for_path(path: Sequence[int], dst: HostLocation,
                  links: Mapping[tuple[int, int], LinkPorts],
                  src_dpid: int | None = None) -> tuple[Hop, ...] | None:
    """Rules for a switch path ending at the destination host (and, given ``src_dpid``,
    starting at the source host's switch); None if a link has vanished or the path ends or
    starts at another switch than the host's (it moved)."""
    if not path or path[-1] != dst.dpid or (src_dpid is not None and path[0] != src_dpid):
        return None
    hops = []
    for here, there in zip(path, path[1:]):
        ports = links.get((here, there))
        if ports is None:
            return None
        hops.append((here, ports.src_port))
    hops.append((path[-1], dst.port))
    return tuple(hops)


def without_switches(hops_by_flow: Mapping[FlowKey, tuple[Hop, ...]],
                     dpids: set[int]) -> dict[FlowKey, tuple[Hop, ...]]:
    """The flows' hops minus those on `dpids` (switches whose rules were wiped); a flow left
    with no hops is dropped. The flows' rules on other switches stay known, so that a later
    plan moving a flow still deletes them."""
    kept = {flow: tuple(hop for hop in hops if hop[0] not in dpids)
            for flow, hops in hops_by_flow.items()}
    return {flow: hops for flow, hops in kept.items() if hops}


def strip_switches(hops_by_flow: Mapping[FlowKey, tuple[Hop, ...]],
                   dpids: set[int]) -> tuple[dict[FlowKey, tuple[Hop, ...]], set[FlowKey]]:
    """:func:`without_switches`, and the kept flows whose first hop (their ingress rule, the
    one with the cookie flag) was among those stripped."""
    kept = without_switches(hops_by_flow, dpids)
    return kept, {flow for flow in kept if hops_by_flow[flow][0][0] in dpids}


@dataclass
class Plan:
    """Flow-mods in three phases. `prepare` (rules downstream of each flow's ingress switch)
    must be applied before `commit` (the ingress switches' rules, which switch traffic over);
    `cleanup` (rules left only on old paths) comes last. Between phases the controller waits
    for OpenFlow barriers from the switches of the previous phase."""

    prepare: list[tuple[int, object]] = field(default_factory=list)
    commit: list[tuple[int, object]] = field(default_factory=list)
    cleanup: list[tuple[int, object]] = field(default_factory=list)

    @staticmethod
    def switches(phase) -> set[int]:
        return {dpid for dpid, _ in phase}


def plan_phases(installed: Mapping[FlowKey, tuple[Hop, ...]],
                desired: Mapping[FlowKey, tuple[Hop, ...]], epoch: int = 0,
                unflagged: Collection[FlowKey] = ()) -> Plan:
    """The phased flow-mods taking the switches from `installed` to `desired`. `unflagged`:
    flows whose installed ingress rule was wiped (their first installed hop is a transit one)."""
    plan = Plan()
    for flow in sorted(desired):
        new = desired[flow]
        old = installed.get(flow, ())
        if new == old and flow not in unflagged:
            continue
        old_set = set(old)
        old_ingress = old[0] if old and flow not in unflagged else None
        src_mac, dst_mac = flow
        for position in range(len(new) - 1, -1, -1):
            dpid, out_port = new[position]
            ingress = position == 0
            # a kept rule is rewritten when its role changes (a host moved), for its cookie's
            # ingress flag: statistics are read from the ingress rule alone
            if (dpid, out_port) not in old_set or ingress != ((dpid, out_port) == old_ingress):
                phase = plan.commit if ingress else plan.prepare
                phase.append((dpid, ofmsgs.forward_rule(src_mac, dst_mac, out_port, epoch, ingress)))
        new_switches = {dpid for dpid, _ in new}
        for dpid, _ in old:
            if dpid not in new_switches:
                plan.cleanup.append((dpid, ofmsgs.delete_pair_rule(src_mac, dst_mac)))
    for flow in sorted(set(installed) - set(desired)):
        src_mac, dst_mac = flow
        for dpid, _ in installed[flow]:
            plan.cleanup.append((dpid, ofmsgs.delete_pair_rule(src_mac, dst_mac)))
    return plan
