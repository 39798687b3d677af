"""ARP without broadcast storms: the controller answers for hosts it knows and floods a request
only to edge ports, once per request within a time window. Also the delivery of packets that
reach the controller before their flow's rules are in place.

The functions here decide and return ``(dpid, message)`` lists; the app sends them. Given an
:class:`controller.edge_guard.EdgeGuard`, a sender is learned only as it allows: a refused
source, or one whose claim waits on a probe, is neither answered, flooded nor delivered.
"""
from __future__ import annotations

from collections.abc import Collection

from ryu.lib.packet import arp, ethernet, ipv4, packet, vlan
from ryu.ofproto import ether

from controller import edge_guard, ofmsgs
from controller.netstate import NetworkState
from controller.splits import Message


class FloodGuard:
    """Remembers recently handled requests so that copies of one are not handled twice, and
    who asked for a target not known yet (answered as soon as the target is learned)."""

    MAX_ASKS = 1024

    def __init__(self, window_s: float):
        self.window_s = window_s
        self.seen: dict[object, float] = {}
        # target IP -> {asker MAC: (asker IP, dpid, port, when)}
        self.asks: dict[str, dict[str, tuple[str, int, int, float]]] = {}

    def first_time(self, key, now: float) -> bool:
        if len(self.seen) > 4096:
            self.seen = {k: t for k, t in self.seen.items() if now - t < self.window_s}
        last = self.seen.get(key)
        if last is not None and now - last < self.window_s:
            return False
        self.seen[key] = now
        return True

    def remember_ask(self, target_ip: str, asker_mac: str, asker_ip: str, dpid: int, port: int,
                     now: float) -> None:
        if sum(len(askers) for askers in self.asks.values()) >= self.MAX_ASKS:
            self.asks = {ip: fresh for ip, askers in self.asks.items()
                         if (fresh := {mac: ask for mac, ask in askers.items()
                                       if now - ask[3] < self.window_s})}
            if sum(len(askers) for askers in self.asks.values()) >= self.MAX_ASKS:
                return  # a flood of asks: they are not answered early, hosts ask again
        self.asks.setdefault(target_ip, {})[asker_mac] = (asker_ip, dpid, port, now)

    def answers(self, state: NetworkState, ip: str | None, now: float,
                answered: str | None = None) -> list[Message]:
        """Replies, for hosts that asked for `ip` within the window, now that its host is known
        (but `answered`, whom the target's own reply is on its way to)."""
        askers = self.asks.pop(ip, {}) if ip else {}
        askers.pop(answered, None)
        target = state.host_by_ip(ip) if askers else None
        if target is None:
            return []
        return [(dpid, ofmsgs.packet_out(arp_reply(target.mac, target.ip, mac, asker_ip), port))
                for mac, (asker_ip, dpid, port, when) in sorted(askers.items())
                if now - when < self.window_s and mac in state.hosts]


def arp_reply(src_mac: str, src_ip: str, dst_mac: str, dst_ip: str) -> bytes:
    """An ARP reply telling dst that src_ip is at src_mac."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(ethertype=ether.ETH_TYPE_ARP, dst=dst_mac, src=src_mac))
    pkt.add_protocol(arp.arp(opcode=arp.ARP_REPLY, src_mac=src_mac, src_ip=src_ip,
                             dst_mac=dst_mac, dst_ip=dst_ip))
    pkt.serialize()
    return bytes(pkt.data)


def _learn(edge: edge_guard.EdgeGuard | None, state: NetworkState, mac: str, dpid: int, port: int,
           ip: str | None, now: float) -> tuple[bool, bool, list[Message]]:
    """(learned as new or moved, admitted: the controller may act for it, probes to send)."""
    if edge is None:
        return state.learn_host(mac, dpid, port, ip), True, []
    outcome, probes = edge.learn(state, mac, dpid, port, ip, now)
    return (outcome == edge_guard.LEARNED, outcome in (edge_guard.LEARNED, edge_guard.KNOWN,
                                                        edge_guard.TRANSIT), probes)


def probe_where_replies_bypass(target_ip: str, state: NetworkState, connected: Collection[int],
                               exclude: tuple[int, int]) -> list[Message]:
    """Only broadcast ARP comes to the controller: the unicast reply of a host on a switch
    with known hosts follows their classification rules and would never teach the controller
    where it is. An ARP probe out of those switches' edge ports (but `exclude`) makes it answer
    the controller."""
    with_hosts = {host.dpid for host in state.hosts.values()}
    frame = edge_guard.arp_probe(ofmsgs.BROADCAST, target_ip)
    return [(dpid, ofmsgs.packet_out(frame, port)) for dpid in connected if dpid in with_hosts
            for port in state.edge_ports(dpid) if (dpid, port) != exclude]


def handle_packet(data: bytes, dpid: int, in_port: int, now: float, state: NetworkState,
                  guard: FloodGuard, connected: Collection[int],
                  edge: edge_guard.EdgeGuard | None = None) -> tuple[str | None, list[Message]]:
    """A frame sent to the controller from (`dpid`, `in_port`), with `connected` the switches
    messages can be sent to: the MAC of the host it taught (new or moved; None if none), and
    the messages to send. ARP is answered or flooded (:func:`handle`); IPv4 teaches its sender
    and is delivered; any other frame is dropped, never flooded."""
    pkt = packet.Packet(data)
    eth = pkt.get_protocol(ethernet.ethernet)
    if eth is None or eth.ethertype == ether.ETH_TYPE_LLDP:
        return None, []
    if pkt.get_protocol(vlan.vlan) is not None:
        # a tunnel's frame that met no rule (a stale bucket, a switch that just reconnected):
        # its sender is behind another switch, not at this port
        return None, []
    arp_pkt = pkt.get_protocol(arp.arp)
    if arp_pkt is not None:
        if eth.dst == edge_guard.PROBE_MAC:  # the answer to one of our probes: for us alone
            if edge is None:
                learned = state.learn_host(arp_pkt.src_mac, dpid, in_port, arp_pkt.src_ip)
            else:
                learned = edge.learn(state, arp_pkt.src_mac, dpid, in_port, arp_pkt.src_ip,
                                     now)[0] == edge_guard.LEARNED
            return (arp_pkt.src_mac if learned else None), guard.answers(state, arp_pkt.src_ip, now)
        learned, messages = handle(arp_pkt, data, dpid, in_port, now, state, guard, connected, edge)
        return (arp_pkt.src_mac if learned else None), messages
    ip_pkt = pkt.get_protocol(ipv4.ipv4)
    if ip_pkt is None:
        return None, []
    learned, admitted, probes = _learn(edge, state, eth.src, dpid, in_port, ip_pkt.src, now)
    if not admitted:
        return None, probes
    return (eth.src if learned else None), probes + deliver(eth.dst, data, state, connected)


def handle(request: arp.arp, data: bytes, dpid: int, in_port: int, now: float, state: NetworkState,
           guard: FloodGuard, connected: Collection[int],
           edge: edge_guard.EdgeGuard | None = None) -> tuple[bool, list[Message]]:
    """An ARP packet (`request`, the frame `data`) that came in at (`dpid`, `in_port`), with
    `connected` the switches messages can be sent to: whether its sender was learned as a new
    or moved host, and the messages to send. A request for a known host is answered; for an
    unknown one it is flooded to edge ports once per window; a reply is delivered (flooded
    when its target is unknown)."""
    asking = request.opcode == arp.ARP_REQUEST
    first = not asking or guard.first_time((request.src_mac, request.dst_ip), now)
    if not first:
        sender = state.hosts.get(request.src_mac)
        if sender is None or (sender.dpid, sender.port) != (dpid, in_port):
            return False, []  # a copy of a request already handled (e.g. our own flood coming back)
        # else: the host itself asking again (its reply was lost): answer, don't flood
    learned, admitted, probes = _learn(edge, state, request.src_mac, dpid, in_port,
                                       request.src_ip, now)
    if not admitted:
        return False, probes
    if asking:
        target = state.host_by_ip(request.dst_ip)
        if target is not None:
            reply = arp_reply(target.mac, target.ip, request.src_mac, request.src_ip)
            return learned, probes + [(dpid, ofmsgs.packet_out(reply, in_port))]
        if not first:
            return learned, probes
        # the request itself goes only where the target's reply would come back here; where it
        # would pass the controller by (switches with known hosts, whose classification rules
        # carry unicast ARP), a probe goes instead, and its answer gets the asker its reply
        guard.remember_ask(request.dst_ip, request.src_mac, request.src_ip, dpid, in_port, now)
        bypassed = {host.dpid for host in state.hosts.values()}
        return learned, probes + flood_to_edges(data, state, [d for d in connected if d not in bypassed],
                                                (dpid, in_port)) + \
            probe_where_replies_bypass(request.dst_ip, state, connected, (dpid, in_port))
    return learned, probes + guard.answers(state, request.src_ip, now, request.dst_mac) + (
        deliver(request.dst_mac, data, state, connected)
        or flood_to_edges(data, state, connected, (dpid, in_port)))


def deliver(dst_mac: str, data: bytes, state: NetworkState, connected: Collection[int]) -> list[Message]:
    """The frame sent out of its destination host's port; nothing if the host or its switch is
    not known."""
    host = state.hosts.get(dst_mac)
    if host is None or host.dpid not in connected:
        return []
    return [(host.dpid, ofmsgs.packet_out(data, host.port))]


def flood_to_edges(data: bytes, state: NetworkState, connected: Collection[int],
                   exclude: tuple[int, int]) -> list[Message]:
    """The frame sent out of every edge port of the connected switches but `exclude`; never
    out of a port that carries a link, so that loops in the topology never carry it."""
    return [(dpid, ofmsgs.packet_out(data, port)) for dpid in connected
            for port in state.edge_ports(dpid) if (dpid, port) != exclude]
