"""The tunnel data plane's OpenFlow messages, serialised through a fake datapath and read back
from the bytes, against literal matches, actions, cookies and bucket weights; and the rule
counts of a ring, hand-counted."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import group_ids, ofmsgs
from controller.tunnels import BASE_RULES, InstalledTunnels, RuleCount, rule_counts
from tests.fakes import FakeDatapath, reparse
from tests.tables_sim import TableSim
from tests.test_tunnels import host_mac, ring_state

COOKIE_7 = (0x71726F75 << 32) | 7


def sent(msg):
    datapath = FakeDatapath(1, [])
    msg.datapath = datapath
    datapath.send_msg(msg)
    return datapath, msg


def flow_mod(msg):
    return reparse(*sent(msg))


def actions(mod):
    return [(type(a).__name__, *(getattr(a, f) for f in ("port", "group_id", "ethertype", "value")
                                 if hasattr(a, f)))
            for inst in mod.instructions for a in getattr(inst, "actions", ())]


def group_mod_bytes(msg):
    _, msg = sent(msg)
    raw = bytes(msg.buf)
    command, group_type, group_id = struct.unpack_from("!HBxI", raw, 8)
    buckets, offset = [], 16
    while offset < len(raw):
        length, weight, watch_port, watch_group = struct.unpack_from("!HHII", raw, offset)
        bucket = parser.OFPBucket.parser(raw, offset)
        buckets.append((weight, watch_port, watch_group,
                        [(type(a).__name__, getattr(a, "ethertype", None) or getattr(a, "value", None)
                          or getattr(a, "port", None)) for a in bucket.actions]))
        offset += length
    return command, group_type, group_id, buckets


def test_tunnel_transit_and_egress_rules_match_the_tagged_label():
    transit = flow_mod(ofmsgs.tunnel_transit_rule(42, 3, epoch=7))
    assert (transit.table_id, transit.priority, transit.cookie) == (0, 25000, COOKIE_7)
    assert dict(transit.match.items()) == {"vlan_vid": 0x1000 | 42}
    assert actions(transit) == [("OFPActionOutput", 3)]
    egress = flow_mod(ofmsgs.tunnel_egress_rule(42, epoch=7))
    assert dict(egress.match.items()) == {"vlan_vid": 0x1000 | 42} and egress.priority == 25000
    assert actions(egress) == [("OFPActionPopVlan",)]
    assert [type(i).__name__ for i in egress.instructions] == [
        "OFPInstructionActions", "OFPInstructionGotoTable"]
    assert egress.instructions[1].table_id == 1
    delete = flow_mod(ofmsgs.delete_tunnel_rule(42))
    assert (delete.command, delete.priority, delete.table_id) == (ofp.OFPFC_DELETE_STRICT, 25000, 0)
    assert dict(delete.match.items()) == {"vlan_vid": 0x1000 | 42}
    assert (delete.cookie, delete.cookie_mask) == (0x71726F75 << 32, 0xFFFFFFFF00000000)
    assert (delete.out_port, delete.out_group) == (ofp.OFPP_ANY, ofp.OFPG_ANY)


def test_classification_and_delivery_rules():
    to_group = flow_mod(ofmsgs.classify_to_group("00:00:00:00:00:0b", 5, epoch=7))
    assert dict(to_group.match.items()) == {"vlan_vid": 0x0000, "eth_dst": "00:00:00:00:00:0b"}
    assert (to_group.table_id, to_group.priority, to_group.cookie) == (0, 20000, COOKIE_7)
    assert actions(to_group) == [("OFPActionGroup", 5)]
    to_port = flow_mod(ofmsgs.classify_to_port("00:00:00:00:00:0b", 9))
    assert actions(to_port) == [("OFPActionOutput", 9)] and to_port.priority == 20000
    remove = flow_mod(ofmsgs.delete_classify_rule("00:00:00:00:00:0b"))
    assert remove.command == ofp.OFPFC_DELETE_STRICT and remove.cookie_mask == ofmsgs.APP_COOKIE_MASK
    assert dict(remove.match.items()) == {"vlan_vid": 0x0000, "eth_dst": "00:00:00:00:00:0b"}
    deliver = flow_mod(ofmsgs.delivery_rule("00:00:00:00:00:0b", 9, epoch=7))
    assert (deliver.table_id, deliver.priority, deliver.cookie) == (1, 20000, COOKIE_7)
    assert dict(deliver.match.items()) == {"eth_dst": "00:00:00:00:00:0b"}
    assert actions(deliver) == [("OFPActionOutput", 9)]
    undeliver = flow_mod(ofmsgs.delete_delivery_rule("00:00:00:00:00:0b"))
    assert (undeliver.command, undeliver.table_id) == (ofp.OFPFC_DELETE_STRICT, 1)


def test_base_rules_and_switch_reset():
    rules = [flow_mod(m) for m in ofmsgs.base_rules()]
    assert [(m.table_id, m.priority, dict(m.match.items()), actions(m)) for m in rules] == [
        (0, 0, {}, [("OFPActionOutput", ofp.OFPP_CONTROLLER)]),
        # broadcast ARP only: unicast ARP between known hosts follows their rules
        (0, 30000, {"eth_type": 0x0806, "eth_dst": "ff:ff:ff:ff:ff:ff"},
         [("OFPActionOutput", ofp.OFPP_CONTROLLER)]),
        (1, 0, {}, []),                             # table 1's miss drops
    ]
    assert BASE_RULES == 3
    delete_rules, delete_groups, *base = ofmsgs.switch_reset()
    rules = flow_mod(delete_rules)
    assert (rules.command, rules.table_id, rules.cookie_mask) == (ofp.OFPFC_DELETE, ofp.OFPTT_ALL,
                                                                  ofmsgs.APP_COOKIE_MASK)
    assert group_mod_bytes(delete_groups)[::2] == (ofp.OFPGC_DELETE, ofp.OFPG_ALL)
    assert len(base) == 3


def test_the_read_back_request_asks_every_table_for_qroute_cookied_rules_only():
    datapath = FakeDatapath(1, [])
    request = ofmsgs.app_flow_stats_request()
    request.datapath = datapath
    datapath.send_msg(request)
    # OpenFlow 1.3 layout: multipart header (type, flags), then the flow-stats request body
    kind, = struct.unpack_from("!H", request.buf, 8)
    table, out_port, out_group, cookie, mask = struct.unpack_from("!B3xII4xQQ", request.buf, 16)
    assert kind == ofp.OFPMP_FLOW
    assert (table, out_port, out_group) == (ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY)
    assert (cookie, mask) == (0x71726F75 << 32, 0xFFFFFFFF00000000)
    match_type, match_length = struct.unpack_from("!HH", request.buf, 48)
    assert (match_type, match_length) == (ofp.OFPMT_OXM, 4)  # no field: every rule


def test_group_add_modify_delete_bytes():
    add = group_mod_bytes(ofmsgs.group_add(7, [(12, 700, 2), (13, 300, 6)]))
    assert add[:3] == (ofp.OFPGC_ADD, ofp.OFPGT_SELECT, 7)
    assert add[3] == [
        (700, ofp.OFPP_ANY, ofp.OFPG_ANY, [("OFPActionPushVlan", 0x8100), ("OFPActionSetField", 0x1000 | 12),
                                           ("OFPActionOutput", 2)]),
        (300, ofp.OFPP_ANY, ofp.OFPG_ANY, [("OFPActionPushVlan", 0x8100), ("OFPActionSetField", 0x1000 | 13),
                                           ("OFPActionOutput", 6)]),
    ]
    modify = group_mod_bytes(ofmsgs.group_modify(7, [(12, 1000, 2)]))
    assert modify[:3] == (ofp.OFPGC_MODIFY, ofp.OFPGT_SELECT, 7) and [b[0] for b in modify[3]] == [1000]
    assert group_mod_bytes(ofmsgs.group_delete(7)) == (ofp.OFPGC_DELETE, ofp.OFPGT_SELECT, 7, [])


def test_group_statistics_requests_ask_for_every_group():
    _, stats = sent(ofmsgs.group_stats_request())
    raw = bytes(stats.buf)
    assert struct.unpack_from("!HH4xI", raw, 8) == (ofp.OFPMP_GROUP, 0, ofp.OFPG_ALL)
    _, desc = sent(ofmsgs.group_desc_request())
    assert struct.unpack_from("!HH", bytes(desc.buf), 8) == (ofp.OFPMP_GROUP_DESC, 0)


def test_out_of_range_labels_dpids_and_weights_are_refused():
    for label in (0, 4095):
        with pytest.raises(ValueError, match="not a VLAN id"):
            ofmsgs.tunnel_transit_rule(label, 1)
    with pytest.raises(ValueError, match="not a datapath id"):
        ofmsgs.group_add(2**64, [(1, 1, 1)])
    with pytest.raises(ValueError, match="not a datapath id"):
        ofmsgs.classify_to_group("00:00:00:00:00:01", -1)
    with pytest.raises(ValueError, match="not a select group id"):
        ofmsgs.group_delete_id(ofmsgs.ff_group_id(3))
    with pytest.raises(ValueError, match="weight >= 1"):
        ofmsgs.group_add(3, [(1, 0, 1)])


# Open vSwitch's default dpid: 0x0000 and the bridge's MAC address
OVS_DPID = 0x0000_0A1B_2C3D_4E5F
# two such dpids whose select group ids fold to the same value (found by search; checked below)
COLLIDING = (0x0A0000010B4C, 0x0A0000012238)


def test_a_dpid_above_32_bits_names_its_select_group_by_a_hash_that_stays_clear_of_other_ids():
    group_id = group_ids.select_group_id(OVS_DPID)
    assert group_ids.FOLDED_BASE <= group_id <= ofmsgs.MAX_GROUP_ID < ofmsgs.ff_group_id(1)
    assert group_ids.select_group_id(7) == 7  # a small dpid is its own id, as before
    _, add = sent(ofmsgs.group_add(OVS_DPID, [(12, 700, 2)]))
    assert struct.unpack_from("!HBxI", bytes(add.buf), 8) == (ofp.OFPGC_ADD, ofp.OFPGT_SELECT, group_id)
    to_group = flow_mod(ofmsgs.classify_to_group("00:00:00:00:00:0b", OVS_DPID))
    assert [a.group_id for i in to_group.instructions for a in i.actions] == [group_id]
    # the same in another process: the id is read back from switches a restarted controller meets
    code = ("from controller.group_ids import select_group_id as s; "
            f"print(s({OVS_DPID}), s({COLLIDING[0]}))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "123"})
    assert other.stdout.split() == [str(group_id), str(group_ids.select_group_id(COLLIDING[0]))]


def test_pairs_towards_a_large_dpid_are_routed_and_a_colliding_one_is_left_out():
    first, second = COLLIDING
    assert group_ids.select_group_id(first) == group_ids.select_group_id(second)
    state = ring_state(n=3)
    for big, port in ((OVS_DPID, 7), (first, 8), (second, 9)):
        state.add_link(1, big, port, 1)
        state.add_link(big, 1, 1, port)
        state.learn_host(f"00:00:00:00:ff:{port:02x}", big, 50)
    tunnels = InstalledTunnels()
    assert [tunnels.names.add(dpid) for dpid in (1, 2, 3, OVS_DPID, first, second)] == \
        [None] * 5 + [first]                          # the second claimant is refused
    decided = {(1, big): (((1, big), 1.0),) for big in (OVS_DPID, first, second)}
    decided.update({(big, 1): (((big, 1), 1.0),) for big in (OVS_DPID, first, second)})
    desired = tunnels.resolve(decided, state)
    assert set(desired.splits) == set(decided) - {(1, second)}  # towards `second`: no group name
    assert (1, "00:00:00:00:ff:09") not in desired.classify          # its host: not routed
    assert desired.classify[(1, "00:00:00:00:ff:07")] == ("group", OVS_DPID)
    assert tunnels.names.egress(group_ids.select_group_id(first)) == first
    assert tunnels.names.egress(group_ids.select_group_id(OVS_DPID)) == OVS_DPID
    assert tunnels.names.egress(group_ids.select_group_id(0x0B00_0000_0001)) is None  # unclaimed


# --- rule counts --------------------------------------------------------------------------
def shortest_ring_decision(n: int, pairs):
    """Shortest way round a ring; two equal ways (opposite switches) split in halves."""
    decided = {}
    for a, b in pairs:
        cw, ccw = [a], [a]
        while cw[-1] != b:
            cw.append(cw[-1] % n + 1)
        while ccw[-1] != b:
            ccw.append((ccw[-1] - 2) % n + 1)
        if len(cw) == len(ccw):
            decided[(a, b)] = ((tuple(cw), 0.5), (tuple(ccw), 0.5))
        else:
            decided[(a, b)] = ((tuple(min(cw, ccw, key=len)), 1.0),)
    return decided


@pytest.mark.parametrize("hosts, expected", [
    # on a 4-ring with shortest paths (opposite pairs split over both ways), each switch has:
    # tunnel rules: 2 adjacent pairs and 2 tunnels of the opposite pair end there, 2 opposite
    # tunnels pass (6); classification: 3 remote switches' hosts to groups + its own (4 x h);
    # delivery: its own hosts (h); groups: 3 (one per other switch); buckets: 1 + 1 + 2
    (1, RuleCount(flow_rules=6 + 4 + 1, groups=3, buckets=4)),
    (4, RuleCount(flow_rules=6 + 16 + 4, groups=3, buckets=4)),
])
def test_rules_grow_with_hosts_attached_not_host_pairs(hosts, expected):
    state = ring_state(n=4, hosts_per_switch=hosts)
    tunnels = InstalledTunnels()
    desired = tunnels.resolve(shortest_ring_decision(4, state.switch_pairs()), state)
    assert rule_counts(desired) == {dpid: expected for dpid in (1, 2, 3, 4)}
    sim = TableSim({link: (p.src_port, p.dst_port) for link, p in state.links.items()})
    sim.apply([(dpid, m) for dpid in (1, 2, 3, 4) for m in ofmsgs.switch_reset()])
    sim.apply(tunnels.plan(desired).messages())
    tunnels.commit(desired)
    for dpid in (1, 2, 3, 4):
        rules, groups = sim.contents(dpid)
        assert len(rules) - BASE_RULES == expected.flow_rules
        assert (len(groups), sum(len(b) for b in groups.values())) == (expected.groups, expected.buckets)
    assert rule_counts(tunnels) == rule_counts(desired)
    assert len(state.hosts) * (len(state.hosts) - 1) == {1: 12, 4: 240}[hosts]   # host pairs
    assert sim.walk(1, 100, host_mac(3, hosts - 1))[0].port == 100 + hosts - 1
