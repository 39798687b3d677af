"""Rates from OpenFlow statistics replies: link load from port transmit counters, each flow's
rate from the byte counter of its rule at the ingress switch.

Both are timed by the counters' own age (``duration_sec``/``duration_nsec``), not by when a reply
arrived: two delayed replies handled back to back would otherwise give absurd rates.
"""
from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

from controller import ofmsgs
from controller.netstate import HostLocation, NetworkState, RateMeter

FlowKey = tuple[str, str]
Link = tuple[int, int]
UNKNOWN_DURATION = 0xFFFFFFFF  # an OpenFlow 1.3 port-stats duration the switch does not track


def counter_age(stat) -> float:
    """Seconds a flow-stats or port-stats entry's counters have been counting."""
    return stat.duration_sec + stat.duration_nsec * 1e-9


def poll_requests(connected: Iterable[int], hosts: Mapping[str, HostLocation]) -> list[tuple[int, object]]:
    """Port counters (link loads) of every connected switch, and the counters of qroute's own
    ingress rules (flow rates) of the switches where hosts attach: a flow's rate is read at its
    ingress switch, so the rules of a transit-only switch would be parsed for nothing."""
    ingress = {host.dpid for host in hosts.values()}
    requests = []
    for dpid in connected:
        requests.append((dpid, ofmsgs.port_stats_request()))
        if dpid in ingress:
            requests.append((dpid, ofmsgs.ingress_flow_stats_request()))
    return requests


class PortRates:
    """Transmit rate of each port that carries a link. A switch that does not track port
    durations gets its samples timed by arrival (``now``); as replies can be handled back to
    back, a sample less than half a polling interval after the one a rate would start from
    gives none (that one stays the base, so the next rate spans the whole time)."""

    def __init__(self, stats_interval: float):
        self.stats_interval = stats_interval
        self.meter = RateMeter()  # (dpid, port) -> transmit counter samples

    def update(self, dpid: int, stats: Iterable, now: float, state: NetworkState) -> list[tuple[Link, float]]:
        """(link, bits/s) for the ports of one port-stats reply that carry a link and have a rate."""
        rates = []
        for stat in stats:
            if stat.duration_sec == UNKNOWN_DURATION:
                age, min_elapsed = now, 0.5 * self.stats_interval
            else:
                age, min_elapsed = counter_age(stat), 0.0
            rate = self.meter.update((dpid, stat.port_no), age, stat.tx_bytes, min_elapsed)
            link = state.link_at_port(dpid, stat.port_no)
            if rate is not None and link is not None:
                rates.append((link, rate))
        return rates

    def forget_switch(self, dpid: int) -> None:
        self.meter.forget_switch(dpid)


class FlowRates:
    """Each installed flow's rate (bits/s), read where it enters the network: its rule on the
    ingress switch counts each of its packets once. A rule rewritten since the last sample has
    another cookie (epoch): Open vSwitch restarts its age but may carry its byte count over, so
    that sample gives no rate."""

    def __init__(self):
        self.meter = RateMeter()  # (dpid, flow) -> rule byte counter samples
        self.bps: dict[FlowKey, float] = {}

    def update(self, dpid: int, stats: Iterable, hosts: Mapping[str, HostLocation],
               installed: Container[FlowKey]) -> None:
        """Take one flow-stats reply of switch `dpid` (rules of flows not entering there, or
        not installed, are ignored)."""
        for stat in stats:
            flow = (stat.match.get("eth_src"), stat.match.get("eth_dst"))
            source = hosts.get(flow[0])
            if source is None or source.dpid != dpid or flow not in installed:
                continue
            rate = self.meter.update((dpid, flow), counter_age(stat), stat.byte_count,
                                     generation=stat.cookie)
            if rate is not None:
                self.bps[flow] = rate

    def keep_only(self, installed: Container[FlowKey]) -> None:
        """Forget flows no longer installed. Rates are only recorded for installed flows, so
        they go stale only when the installed set changes: pruned then, not on every reply."""
        self.meter.forget(lambda key: key[1] in installed)
        for flow in [f for f in self.bps if f not in installed]:
            del self.bps[flow]

    def forget_switch(self, dpid: int) -> None:
        self.meter.forget_switch(dpid)
