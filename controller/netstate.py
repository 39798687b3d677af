"""What the controller knows about the live network, kept free of Ryu so it is testable alone.

Switches are datapath ids, links are directed (dpid_a, dpid_b) pairs with the port on each end,
hosts are MAC addresses attached to an edge port. Measured load is bits/s per directed link,
derived from port transmit counters.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx


@dataclass(frozen=True)
class LinkPorts:
    src_port: int
    dst_port: int


@dataclass(frozen=True)
class HostLocation:
    mac: str
    dpid: int
    port: int
    ip: str | None = None


@dataclass
class RateMeter:
    """Turns cumulative byte counters into bits/s per key (``(dpid, port)`` for ports,
    ``(dpid, flow)`` for rules); survives counter resets (a switch restart, a rule replaced with
    a fresh counter) and replaced counters (``generation``, e.g. a rule's cookie, changed): such
    a sample gives no rate."""

    samples: dict = field(default_factory=dict)

    def update(self, key, now: float, byte_count: int, min_elapsed: float = 0.0,
               generation=None) -> float | None:
        """The rate since the key's previous sample. A sample less than ``min_elapsed`` after
        it gives no rate and leaves it as the base, so that the next rate spans more time."""
        previous = self.samples.get(key)
        if previous is not None and previous[2] != generation:
            previous = None
        if previous is not None and byte_count >= previous[1] and 0.0 <= now - previous[0] < min_elapsed:
            return None
        self.samples[key] = (now, byte_count, generation)
        if previous is None:
            return None
        then, old_bytes, _ = previous
        elapsed = now - then
        if elapsed <= 0 or byte_count < old_bytes:
            return None
        return (byte_count - old_bytes) * 8.0 / elapsed

    def forget(self, keep) -> None:
        """Drop every key for which ``keep(key)`` is false."""
        for key in [k for k in self.samples if not keep(k)]:
            del self.samples[key]

    def forget_switch(self, dpid: int) -> None:
        """Drop the keys of one switch (keys are tuples starting with the dpid)."""
        self.forget(lambda key: key[0] != dpid)


@dataclass
class NetworkState:
    default_capacity_bps: float = 10e6
    switches: set[int] = field(default_factory=set)
    links: dict[tuple[int, int], LinkPorts] = field(default_factory=dict)
    hosts: dict[str, HostLocation] = field(default_factory=dict)
    capacity_bps: dict[tuple[int, int], float] = field(default_factory=dict)
    ospf_weight: dict[tuple[int, int], float] = field(default_factory=dict)
    load_bps: dict[tuple[int, int], float] = field(default_factory=dict)
    ports: dict[int, set[int]] = field(default_factory=dict)  # dpid -> its physical ports
    # (dpid, port) -> directed links with an end there; kept by add_link/remove_link so that
    # per-port lookups (one per port statistic) do not scan every link
    _at_port: dict[tuple[int, int], set[tuple[int, int]]] = field(default_factory=dict, repr=False)

    def apply_link_facts(self, facts) -> None:
        """Known capacities and OSPF weights: (src, dst, capacity_bps, weight) per link."""
        for src, dst, capacity, weight in facts:
            self.capacity_bps[(src, dst)] = capacity
            self.ospf_weight[(src, dst)] = weight

    # --- topology -------------------------------------------------------------------------
    def add_switch(self, dpid: int) -> None:
        self.switches.add(dpid)

    def remove_switch(self, dpid: int) -> list[tuple[int, int]]:
        self.switches.discard(dpid)
        self.ports.pop(dpid, None)
        gone = [link for link in self.links if dpid in link]
        for link in gone:
            self.remove_link(*link)
        for mac in [m for m, h in self.hosts.items() if h.dpid == dpid]:
            del self.hosts[mac]
        return gone

    def add_link(self, src: int, dst: int, src_port: int, dst_port: int) -> bool:
        """Record a directed link; returns True if it is new or moved to other ports."""
        ports = LinkPorts(src_port, dst_port)
        changed = self.links.get((src, dst)) != ports
        if changed and (src, dst) in self.links:
            self._unindex((src, dst))
        self.links[(src, dst)] = ports
        for end in ((src, src_port), (dst, dst_port)):
            self._at_port.setdefault(end, set()).add((src, dst))
        self.switches.update((src, dst))
        # A port that carries a link has no host behind it: what was learned there was transit.
        for mac in [m for m, h in self.hosts.items()
                    if (h.dpid, h.port) in ((src, src_port), (dst, dst_port))]:
            del self.hosts[mac]
        return changed

    def remove_link(self, src: int, dst: int) -> bool:
        self.load_bps.pop((src, dst), None)
        if (src, dst) not in self.links:
            return False
        self._unindex((src, dst))
        del self.links[(src, dst)]
        return True

    def remove_links_at_port(self, dpid: int, port: int) -> list[tuple[int, int]]:
        """Remove both directions of the link attached to (dpid, port); returns those removed."""
        return [link for link in self.links_at_port(dpid, port) if self.remove_link(*link)]

    def _unindex(self, link: tuple[int, int]) -> None:
        ports = self.links[link]
        for end in ((link[0], ports.src_port), (link[1], ports.dst_port)):
            here = self._at_port.get(end)
            if here is not None:
                here.discard(link)
                if not here:
                    del self._at_port[end]

    def link_at_port(self, dpid: int, port: int) -> tuple[int, int] | None:
        """The directed link leaving `dpid` through `port`, if any."""
        for link in self._at_port.get((dpid, port), ()):
            if link[0] == dpid and self.links[link].src_port == port:
                return link
        return None

    def links_at_port(self, dpid: int, port: int) -> list[tuple[int, int]]:
        """Both directions of the link attached to (dpid, port)."""
        return sorted(self._at_port.get((dpid, port), ()))

    def is_link_port(self, dpid: int, port: int) -> bool:
        return (dpid, port) in self._at_port  # emptied entries are removed by _unindex

    # --- ports ----------------------------------------------------------------------------
    def set_ports(self, dpid: int, ports) -> None:
        self.ports[dpid] = set(ports)

    def add_port(self, dpid: int, port: int) -> None:
        self.ports.setdefault(dpid, set()).add(port)

    def remove_port(self, dpid: int, port: int) -> None:
        self.ports.get(dpid, set()).discard(port)

    def port_changed(self, dpid: int, port: int, present: bool, down: bool) -> list[tuple[int, int]]:
        """A port-status report: the port is there or not, and up or down. A port going down
        takes its link with it (both directions); returns the links removed."""
        if present:
            self.add_port(dpid, port)
        else:
            self.remove_port(dpid, port)
        return self.remove_links_at_port(dpid, port) if down else []

    def edge_ports(self, dpid: int) -> list[int]:
        """The switch's ports without a link: where hosts may be, in port order."""
        return sorted(port for port in self.ports.get(dpid, ()) if not self.is_link_port(dpid, port))

    # --- hosts ----------------------------------------------------------------------------
    def learn_host(self, mac: str, dpid: int, port: int, ip: str | None = None) -> bool:
        """Record where a host is; returns True when it is new or has moved."""
        if self.is_link_port(dpid, port):
            return False
        old = self.hosts.get(mac)
        ip = ip or (old.ip if old else None)
        new = HostLocation(mac, dpid, port, ip)
        self.hosts[mac] = new
        return old is None or (old.dpid, old.port) != (dpid, port)

    def switch_pairs(self) -> list[tuple[int, int]]:
        """Every ordered pair of distinct switches that both have a known host, sorted: the
        demands between switches (traffic entering at the first for hosts behind the second)."""
        with_hosts = sorted({host.dpid for host in self.hosts.values()})
        return [(a, b) for a in with_hosts for b in with_hosts if a != b]

    def host_by_ip(self, ip: str) -> HostLocation | None:
        for host in self.hosts.values():
            if host.ip == ip:
                return host
        return None

    # --- load -----------------------------------------------------------------------------
    def capacity(self, link: tuple[int, int]) -> float:
        return self.capacity_bps.get(link, self.default_capacity_bps)

    def set_load(self, link: tuple[int, int], bps: float) -> None:
        self.load_bps[link] = bps

    def utilisation(self, link: tuple[int, int]) -> float:
        return self.load_bps.get(link, 0.0) / self.capacity(link)

    def graph(self) -> nx.DiGraph:
        """A snapshot of the live topology, safe to hand to another thread. Each edge carries
        its ports, capacity, OSPF weight, measured load and utilisation, and ``congestion``
        (1 + 10 x utilisation: the congestion-aware shortest-path cost)."""
        graph = nx.DiGraph()
        graph.add_nodes_from(sorted(self.switches))
        for (src, dst), ports in sorted(self.links.items()):
            utilisation = self.utilisation((src, dst))
            graph.add_edge(src, dst, src_port=ports.src_port, dst_port=ports.dst_port,
                           capacity=self.capacity((src, dst)),
                           ospf=self.ospf_weight.get((src, dst), 1.0),
                           load=self.load_bps.get((src, dst), 0.0),
                           utilisation=utilisation, congestion=1.0 + 10.0 * utilisation)
        return graph
