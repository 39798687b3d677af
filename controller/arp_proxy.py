"""ARP without broadcast storms: the controller answers for hosts it knows and floods a request
only to edge ports, once per request within a time window."""
from __future__ import annotations

from ryu.lib.packet import arp, ethernet, packet
from ryu.ofproto import ether


class FloodGuard:
    """Remembers recently handled requests so that copies of one are not handled twice."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self.seen: dict[object, float] = {}

    def first_time(self, key, now: float) -> bool:
        if len(self.seen) > 4096:
            self.seen = {k: t for k, t in self.seen.items() if now - t < self.window_s}
        last = self.seen.get(key)
        if last is not None and now - last < self.window_s:
            return False
        self.seen[key] = now
        return True


def arp_reply(src_mac: str, src_ip: str, dst_mac: str, dst_ip: str) -> bytes:
    """An ARP reply telling dst that src_ip is at src_mac."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(ethertype=ether.ETH_TYPE_ARP, dst=dst_mac, src=src_mac))
    pkt.add_protocol(arp.arp(opcode=arp.ARP_REPLY, src_mac=src_mac, src_ip=src_ip,
                             dst_mac=dst_mac, dst_ip=dst_ip))
    pkt.serialize()
    return bytes(pkt.data)
