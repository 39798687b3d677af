"""Turn routing decisions into ordered flow-mods: make before break.

A flow is a (src_mac, dst_mac) host pair. Its rules are hops: (dpid, out_port) for each switch
on its path, the last one pointing at the destination host's port. When a path changes, the
new rules go in from the egress switch back to the ingress, so that by the time the ingress
switch sends packets the new way every switch downstream already knows the flow; rules left
only on the old path are deleted last.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from qnn.netstate import HostLocation, LinkPorts

from . import ofmsgs

Hop = tuple[int, int]
FlowKey = tuple[str, str]


def hops_for_path(path: Sequence[int], dst: HostLocation,
                  links: Mapping[tuple[int, int], LinkPorts]) -> tuple[Hop, ...] | None:
    """Rules for a switch path ending at the destination host; None if a link has vanished."""
    hops = []
    for here, there in zip(path, path[1:]):
        ports = links.get((here, there))
        if ports is None:
            return None
        hops.append((here, ports.src_port))
    hops.append((path[-1], dst.port))
    return tuple(hops)


def plan_changes(installed: Mapping[FlowKey, tuple[Hop, ...]],
                 desired: Mapping[FlowKey, tuple[Hop, ...]],
                 epoch: int = 0) -> list[tuple[int, object]]:
    """Ordered (dpid, message) pairs taking the switches from `installed` to `desired`."""
    adds: list[tuple[int, object]] = []
    deletes: list[tuple[int, object]] = []
    for flow in sorted(desired):
        new = desired[flow]
        old = installed.get(flow, ())
        if new == old:
            continue
        old_set = set(old)
        src_mac, dst_mac = flow
        for dpid, out_port in reversed(new):
            if (dpid, out_port) not in old_set:
                adds.append((dpid, ofmsgs.forward_rule(src_mac, dst_mac, out_port, epoch)))
        new_switches = {dpid for dpid, _ in new}
        for dpid, _ in old:
            if dpid not in new_switches:
                deletes.append((dpid, ofmsgs.delete_pair_rule(src_mac, dst_mac)))
    for flow in sorted(set(installed) - set(desired)):
        src_mac, dst_mac = flow
        for dpid, _ in installed[flow]:
            deletes.append((dpid, ofmsgs.delete_pair_rule(src_mac, dst_mac)))
    return adds + deletes
