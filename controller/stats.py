"""Rates from OpenFlow statistics replies: link load from port transmit counters, each switch
pair's demand from the byte counter of its select group at the ingress switch.

Both are timed by the counters' own age (``duration_sec``/``duration_nsec``), not by when a reply
arrived: two delayed replies handled back to back would otherwise give absurd rates.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Iterable, Mapping

from controller import ofmsgs
from controller.netstate import HostLocation, NetworkState, RateMeter
from controller.splits import Link, Pair

UNKNOWN_DURATION = 0xFFFFFFFF  # an OpenFlow 1.3 port-stats duration the switch does not track


def counter_age(stat) -> float:
    """Seconds a flow-stats or port-stats entry's counters have been counting."""
    return stat.duration_sec + stat.duration_nsec * 1e-9


def poll_requests(connected: Iterable[int], hosts: Mapping[str, HostLocation]) -> list[tuple[int, object]]:
    """Port counters (link loads) of every connected switch, and the group counters (switch-pair
    demands) of the switches where hosts attach: only those are ingresses with groups."""
    ingress = {host.dpid for host in hosts.values()}
    requests = []
    for dpid in connected:
        requests.append((dpid, ofmsgs.port_stats_request()))
        if dpid in ingress:
            requests.append((dpid, ofmsgs.group_stats_request()))
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


class PairRates:
    """Each switch pair's demand (bits/s), read where its traffic enters the network: the byte
    counter of the ingress switch's select group towards the egress counts every packet of the
    pair once, whichever tunnel its bucket sends it into. Per-bucket rates are kept beside it (how
    the switch realised the split). A group rebuilt since the last sample (new buckets, or a
    re-added group after a reconnect) has another generation: that sample gives no rate."""

    def __init__(self, hold: float = 0.0):
        """``hold`` (s, ``demand_hold``): :meth:`demand` is each pair's highest rate over this
        long (0: its last rate)."""
        self.hold = float(hold)
        self.meter = RateMeter()  # (dpid, group_id[, bucket]) -> byte counter samples
        self.bps: dict[Pair, float] = {}
        self.bucket_bps: dict[Pair, tuple[float | None, ...]] = {}
        self.recent: dict[Pair, deque] = {}  # (when, bit/s) of each pair's rates, oldest first

    def update(self, dpid: int, stats: Iterable,
               group_pair: Callable[[int, int], Pair | None],
               generation: Callable[[Pair], object] = lambda pair: None, now: float = 0.0) -> None:
        """Take one group-stats reply of switch `dpid`, received at ``now`` (s, monotonic).
        ``group_pair(dpid, group_id)``: the pair a group of qroute's serves (None: not one of
        qroute's); ``generation(pair)``: what the installed group holds (its buckets), so that
        counters of a rebuilt group are not mixed."""
        for stat in stats:
            pair = group_pair(dpid, stat.group_id)
            if pair is None:
                continue
            age, built = counter_age(stat), generation(pair)
            rate = self.meter.update((dpid, stat.group_id), age, stat.byte_count, generation=built)
            if rate is not None:
                self.bps[pair] = rate
            if rate is not None and self.hold > 0:
                recent = self.recent.setdefault(pair, deque())
                recent.append((now, rate))
                while recent[0][0] < now - self.hold:
                    recent.popleft()
            buckets = [self.meter.update((dpid, stat.group_id, index), age, counter.byte_count,
                                         generation=built)
                       for index, counter in enumerate(stat.bucket_stats)]
            if any(rate is not None for rate in buckets):
                self.bucket_bps[pair] = tuple(buckets)
            else:  # the group was rebuilt: the old rates were of other buckets
                self.bucket_bps.pop(pair, None)

    def demand(self, now: float) -> dict[Pair, float]:
        """Each pair's demand at ``now``: its highest rate measured within ``hold`` s before (the
        last rate, however old, where none is that recent; with ``hold`` 0 the last rate)."""
        if self.hold <= 0:
            return dict(self.bps)
        return {pair: max((rate for when, rate in self.recent.get(pair, ()) if when >= now - self.hold),
                          default=last)
                for pair, last in self.bps.items()}

    def keep_only(self, pairs: Container[Pair]) -> None:
        """Forget pairs no longer installed (rates are only recorded for installed ones)."""
        for pair in [p for p in self.recent if p not in pairs]:
            del self.recent[pair]
        for pair in [p for p in self.bps if p not in pairs]:
            del self.bps[pair]
        for pair in [p for p in self.bucket_bps if p not in pairs]:
            del self.bucket_bps[pair]

    def forget_switch(self, dpid: int) -> None:
        self.meter.forget_switch(dpid)
        self.keep_only({pair for pair in self.bps if pair[0] != dpid})
