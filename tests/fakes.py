"""Test doubles for the Ryu shim: datapaths that serialise every message, and small topologies.

A `FakeDatapath` is Ryu's own `ProtocolDesc` for OpenFlow 1.3 (so `ofproto`/`ofproto_parser`
are the real modules) with a `send_msg` that assigns an xid and serialises the message, as
Ryu's `Datapath.send_msg` does: a malformed message fails the test at the point it is sent.
All datapaths of one `FakeNetwork` append to one log, so ordering across switches is visible.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from types import SimpleNamespace

from ryu.controller import ofp_event
from ryu.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER
from ryu.lib.packet import arp, ethernet, ipv4, packet
from ryu.ofproto import ether, ofproto_parser, ofproto_v1_3
from ryu.ofproto import ofproto_v1_3_parser as parser
from ryu.ofproto.ofproto_protocol import ProtocolDesc
from ryu.topology import event as topo_event


HOST_PORT = 1   # every switch's host sits on port 1
NEXT_PORT = 2   # towards switch i+1 in the ring
PREV_PORT = 3   # towards switch i-1 in the ring


class FakeDatapath(ProtocolDesc):
    def __init__(self, dpid: int, log: list):
        super().__init__(version=ofproto_v1_3.OFP_VERSION)
        self.id = dpid
        self.log = log
        self.sent: list = []
        self._xid = 0

    def send_msg(self, msg):
        assert msg.datapath is self, "message attached to another datapath"
        self._xid += 1
        msg.set_xid(self._xid)
        msg.serialize()  # raises on a malformed message
        assert len(msg.buf) == struct.unpack_from("!H", msg.buf, 2)[0], "length field"
        self.sent.append(msg)
        self.log.append((self.id, msg))


def reparse(datapath, msg):
    """Parse a sent message's serialised bytes back (for message types Ryu can parse)."""
    version, msg_type, msg_len, xid = ofproto_parser.header(msg.buf)
    return ofproto_parser.msg(datapath, version, msg_type, msg_len, xid, bytes(msg.buf))


def is_flow_mod(msg, command=None) -> bool:
    return isinstance(msg, parser.OFPFlowMod) and (command is None or msg.command == command)


def is_add(msg) -> bool:
    return is_flow_mod(msg, ofproto_v1_3.OFPFC_ADD)


def is_delete(msg) -> bool:
    return is_flow_mod(msg) and msg.command in (ofproto_v1_3.OFPFC_DELETE,
                                                ofproto_v1_3.OFPFC_DELETE_STRICT)


def output_ports(flow_mod) -> list[int]:
    return [action.port for inst in flow_mod.instructions for action in getattr(inst, "actions", ())
            if isinstance(action, parser.OFPActionOutput)]


def mac(n: int) -> str:
    return f"00:00:00:00:00:{n:02x}"


def ip(n: int) -> str:
    return f"10.0.0.{n}"


def arp_frame(opcode, src_n: int, dst_ip: str, dst_mac: str = "00:00:00:00:00:00") -> bytes:
    eth_dst = "ff:ff:ff:ff:ff:ff" if opcode == arp.ARP_REQUEST else dst_mac
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=eth_dst, src=mac(src_n),
                                       ethertype=ether.ETH_TYPE_ARP))
    pkt.add_protocol(arp.arp(opcode=opcode, src_mac=mac(src_n), src_ip=ip(src_n),
                             dst_mac=dst_mac, dst_ip=dst_ip))
    pkt.serialize()
    return bytes(pkt.data)


def ipv4_frame(src_n: int, dst_n: int) -> bytes:
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=mac(dst_n), src=mac(src_n),
                                       ethertype=ether.ETH_TYPE_IP))
    pkt.add_protocol(ipv4.ipv4(src=ip(src_n), dst=ip(dst_n), proto=17))
    pkt.add_protocol(b"payload")
    pkt.serialize()
    return bytes(pkt.data)


@dataclass
class FakeNetwork:
    """A ring of switches 1..n (dpids ``dpid_base`` + 1..n) driven through an app's handlers
    with real Ryu events."""

    app: object
    n: int
    dpid_base: int = 0
    log: list = field(default_factory=list)
    history: list = field(default_factory=list)
    datapaths: dict = field(default_factory=dict)

    def _handle(self, handler, event):
        """Run one Ryu handler, then let the rerouting greenthread have its turn, as Ryu's
        event loop does once the handler returns (until nothing is asked for any more)."""
        handler(event)
        while self.app.pending_reasons:
            self.app.run_pending_reroutes()

    def ring_links(self):
        """Directed links ((src, src_port), (dst, dst_port)) of the ring."""
        links, base = [], self.dpid_base
        for i in range(1, self.n + 1):
            j = i % self.n + 1
            links.append(((base + i, NEXT_PORT), (base + j, PREV_PORT)))
            links.append(((base + j, PREV_PORT), (base + i, NEXT_PORT)))
        return links

    # --- switches -------------------------------------------------------------------------
    def connect(self, dpid: int, flows=(), groups=(), answer: bool = True) -> FakeDatapath:
        """A switch connects; it answers the app's read-back requests (unless not `answer`)
        with `flows` (``OFPFlowStats``) and `groups` (``OFPGroupDescStats``): what it holds."""
        dp = FakeDatapath(dpid, self.log)
        self.datapaths[dpid] = dp
        features = parser.OFPSwitchFeatures(dp, datapath_id=dpid, n_buffers=0, n_tables=254,
                                            auxiliary_id=0, capabilities=0)
        self._handle(self.app.switch_features, ofp_event.EventOFPSwitchFeatures(features))
        self.state_change(dp, MAIN_DISPATCHER)
        ports = [self.port(p) for p in (HOST_PORT, NEXT_PORT, PREV_PORT)]
        ports.append(self.port(ofproto_v1_3.OFPP_LOCAL))
        reply = parser.OFPPortDescStatsReply(dp, body=ports)
        self._handle(self.app.port_desc, ofp_event.EventOFPPortDescStatsReply(reply))
        if answer:
            self.answer_read_back(dpid, flows, groups)
        return dp

    def answer_read_back(self, dpid: int, flows=(), groups=(), parts: int = 1):
        """Reply to the last read-back requests sent to the switch, each reply in `parts`
        multipart messages (all but the last flagged REPLY_MORE)."""
        dp = self.datapaths[dpid]
        flow_request = [m for m in dp.sent if isinstance(m, parser.OFPFlowStatsRequest)][-1]
        group_request = [m for m in dp.sent if isinstance(m, parser.OFPGroupDescStatsRequest)][-1]
        for request, cls, event, body in (
                (flow_request, parser.OFPFlowStatsReply, ofp_event.EventOFPFlowStatsReply, list(flows)),
                (group_request, parser.OFPGroupDescStatsReply, ofp_event.EventOFPGroupDescStatsReply,
                 list(groups))):
            size = -(-len(body) // parts) if body else 0
            for part in range(parts):
                reply = cls(dp, body=body[part * size:(part + 1) * size] if size else [])
                reply.flags = ofproto_v1_3.OFPMPF_REPLY_MORE if part < parts - 1 else 0
                reply.xid = request.xid
                handler = self.app.flow_stats if cls is parser.OFPFlowStatsReply else self.app.group_desc
                self._handle(handler, event(reply))

    def state_change(self, dp, state):
        ev = ofp_event.EventOFPStateChange(dp)
        ev.state = state  # as ryu.controller.controller.Datapath.set_state does
        self._handle(self.app.state_change, ev)

    def disconnect(self, dpid: int):
        self.state_change(self.datapaths[dpid], DEAD_DISPATCHER)

    @staticmethod
    def port(port_no: int, state: int = 0, config: int = 0):
        return parser.OFPPort(port_no=port_no, hw_addr="00:00:00:00:01:%02x" % (port_no & 0xff),
                              name=b"p%d" % port_no, config=config, state=state, curr=0,
                              advertised=0, supported=0, peer=0, curr_speed=10000,
                              max_speed=10000)

    def port_status(self, dpid: int, port_no: int, reason: int, state: int = 0, config: int = 0):
        dp = self.datapaths[dpid]
        msg = parser.OFPPortStatus(dp, reason=reason,
                                   desc=self.port(port_no, state=state, config=config))
        self._handle(self.app.port_status, ofp_event.EventOFPPortStatus(msg))

    def port_stats(self, dpid: int, tx_bytes_by_port: dict[int, int], age_s: float | None = None,
                   age_known: bool = True):
        """A port-stats reply; every port is ``age_s`` old (default: the time the app hands its
        pure code, which the tests move forward, as a switch's port ages with time).
        ``age_known=False``: the switch reports the durations as unknown (all ones)."""
        if age_s is None:
            age_s = self.app.clock()
        seconds, nanoseconds = (int(age_s), int(age_s % 1 * 1e9)) if age_known else (0xFFFFFFFF,) * 2
        dp = self.datapaths[dpid]
        body = [parser.OFPPortStats(port_no=p, rx_packets=0, tx_packets=0, rx_bytes=0,
                                    tx_bytes=b, rx_dropped=0, tx_dropped=0, rx_errors=0,
                                    tx_errors=0, rx_frame_err=0, rx_over_err=0, rx_crc_err=0,
                                    collisions=0, duration_sec=seconds, duration_nsec=nanoseconds)
                for p, b in tx_bytes_by_port.items()]
        reply = parser.OFPPortStatsReply(dp, body=body)
        self._handle(self.app.port_stats, ofp_event.EventOFPPortStatsReply(reply))

    def group_stats(self, dpid: int, bytes_by_group: dict[int, int | tuple[int, ...]], age_s: float):
        """A group-stats reply: each group's byte count (or its buckets' counts, which it sums),
        every group ``age_s`` seconds old."""
        dp = self.datapaths[dpid]
        body = []
        for group_id, count in bytes_by_group.items():
            buckets = count if isinstance(count, tuple) else ()
            body.append(parser.OFPGroupStats(
                length=0, group_id=group_id, ref_count=1, packet_count=0,
                byte_count=sum(buckets) if buckets else count, duration_sec=int(age_s),
                duration_nsec=int(age_s % 1 * 1e9),
                bucket_stats=[parser.OFPBucketCounter(packet_count=0, byte_count=b) for b in buckets]))
        reply = parser.OFPGroupStatsReply(dp, body=body)
        self._handle(self.app.group_stats, ofp_event.EventOFPGroupStatsReply(reply))

    # --- links ----------------------------------------------------------------------------
    @staticmethod
    def _link(src, dst):
        return SimpleNamespace(src=SimpleNamespace(dpid=src[0], port_no=src[1]),
                               dst=SimpleNamespace(dpid=dst[0], port_no=dst[1]))

    def link_add(self, src, dst):
        self._handle(self.app.link_add, topo_event.EventLinkAdd(self._link(src, dst)))

    def link_delete(self, src, dst):
        self._handle(self.app.link_delete, topo_event.EventLinkDelete(self._link(src, dst)))

    def link_between(self, a: int, b: int):
        return [(s, d) for s, d in self.ring_links() if {s[0], d[0]} == {a, b}]

    def start(self):
        for dpid in range(self.dpid_base + 1, self.dpid_base + self.n + 1):
            self.connect(dpid)
        for src, dst in self.ring_links():
            self.link_add(src, dst)
        self.clear()

    # --- packets --------------------------------------------------------------------------
    def packet_in(self, dpid: int, in_port: int, data: bytes):
        dp = self.datapaths[dpid]
        msg = parser.OFPPacketIn(dp, buffer_id=ofproto_v1_3.OFP_NO_BUFFER, total_len=len(data),
                                 reason=ofproto_v1_3.OFPR_NO_MATCH, table_id=0, cookie=0,
                                 match=parser.OFPMatch(in_port=in_port), data=data)
        self._handle(self.app.packet_in, ofp_event.EventOFPPacketIn(msg))

    def clear(self):
        """Start a new log; what was sent so far stays in `history` (the switches hold it)."""
        self.history.extend(self.log)
        self.log.clear()
        for dp in self.datapaths.values():
            dp.sent.clear()
