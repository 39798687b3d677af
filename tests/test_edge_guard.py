"""Hostile hosts on literal scenarios: port and total limits, moves and IP claims with the old
holder gone or answering its probe, the packet-in budget, the meter and the dpid registry."""
from __future__ import annotations

import pytest
from ryu.lib.packet import arp, ethernet, packet
from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import ofmsgs
from controller.arp_proxy import FloodGuard, handle_packet
from controller.edge_guard import (KNOWN, LEARNED, PENDING, PROBE_MAC, REFUSED, EdgeGuard,
                                   EdgeLimits, PacketInBudget, connect_messages, metered)
from controller.netstate import NetworkState
from controller.ofp_channel import REFUSE, REPLACE, DpidRegistry, holder_verdict
from controller.settings import SettingsError, parse_settings
from tests.fakes import FakeDatapath, arp_frame, ip, ipv4_frame, mac, reparse

LINK = 9  # port 9 of s1 and s2 carries the link between them; ports 1-3 are edge ports


def network(**limits):
    state = NetworkState()
    for dpid in (1, 2, 3):
        state.add_switch(dpid)
        state.set_ports(dpid, {1, 2, 3, LINK})
    state.add_link(1, 2, LINK, LINK)
    state.add_link(2, 1, LINK, LINK)
    return state, EdgeGuard(EdgeLimits(**{"host_probe_timeout": 1.0, **limits}))


def probe_fields(message):
    """(dpid, out port, eth dst, eth src, ARP opcode, sender IP, target IP) of a probe."""
    dpid, out = message
    pkt = packet.Packet(out.data)
    eth, request = pkt.get_protocol(ethernet.ethernet), pkt.get_protocol(arp.arp)
    return (dpid, out.actions[0].port, eth.dst, eth.src, request.opcode, request.src_ip,
            request.dst_ip)


def probe_answer(holder_n: int) -> bytes:
    """The holder's ARP reply to the controller's probe."""
    return arp_frame(arp.ARP_REPLY, holder_n, "0.0.0.0", dst_mac=PROBE_MAC)


# --- limits -------------------------------------------------------------------------------
def test_a_port_learns_at_most_max_hosts_per_port_and_the_rest_are_refused_once_a_memory():
    state, guard = network(max_hosts_per_port=2)
    assert guard.learn(state, mac(1), 1, 1, ip(1), 0.0) == (LEARNED, [])
    assert guard.learn(state, mac(2), 1, 1, ip(2), 0.0) == (LEARNED, [])
    assert guard.learn(state, mac(3), 1, 1, ip(3), 0.0) == (REFUSED, [])
    assert guard.learn(state, mac(3), 1, 1, ip(3), 5.0) == (REFUSED, [])  # the same source again
    assert guard.learn(state, mac(4), 1, 2, ip(4), 5.0) == (LEARNED, [])  # another port has room
    assert sorted(state.hosts) == [mac(1), mac(2), mac(4)]
    assert dict(guard.refused_total) == {"port_limit": 1}
    guard.learn(state, mac(3), 1, 1, ip(3), 31.0)  # remembered for 30 s, then counted again
    assert dict(guard.refused_total) == {"port_limit": 2}
    assert guard.learn(state, mac(1), 1, 1, ip(1), 31.0) == (KNOWN, [])  # the learned ones stay


def test_the_network_learns_at_most_max_hosts():
    state, guard = network(max_hosts=3)
    outcomes = [guard.learn(state, mac(n), 1 + n % 3, 1, ip(n), 0.0)[0] for n in range(1, 6)]
    assert outcomes == [LEARNED, LEARNED, LEARNED, REFUSED, REFUSED]
    assert dict(guard.refused_total) == {"host_limit": 2}


def test_fifty_spoofed_sources_on_one_port_teach_the_limit_and_no_more():
    state, guard = network(max_hosts_per_port=4)
    for n in range(1, 51):
        guard.learn(state, f"02:ee:00:00:00:{n:02x}", 1, 1, f"10.9.0.{n}", n * 0.01)
    assert len(state.hosts) == 4 and {h.port for h in state.hosts.values()} == {1}
    assert dict(guard.refused_total) == {"port_limit": 46}


def test_a_link_port_teaches_nothing():
    state, guard = network()
    assert guard.learn(state, mac(1), 1, LINK, ip(1), 0.0)[0] == "transit"
    assert state.hosts == {}


# --- moves --------------------------------------------------------------------------------
def test_a_move_from_a_port_that_went_down_is_accepted_at_once():
    state, guard = network()
    guard.learn(state, mac(1), 1, 1, ip(1), 0.0)
    guard.port_changed(1, 1, down=True)
    assert guard.learn(state, mac(1), 2, 1, ip(1), 0.5) == (LEARNED, [])
    assert (state.hosts[mac(1)].dpid, state.hosts[mac(1)].port) == (2, 1)


def test_a_move_from_a_port_that_was_removed_is_accepted_at_once():
    state, guard = network()
    guard.learn(state, mac(1), 1, 1, ip(1), 0.0)
    state.remove_port(1, 1)
    assert guard.learn(state, mac(1), 2, 1, ip(1), 0.5) == (LEARNED, [])


def test_a_move_from_a_switch_that_left_is_accepted_at_once():
    state, guard = network()
    guard.learn(state, mac(1), 3, 1, ip(1), 0.0)
    state.switches.discard(3)
    assert guard.learn(state, mac(1), 2, 1, ip(1), 0.5) == (LEARNED, [])


def test_a_move_while_the_old_port_is_up_probes_the_old_place_and_the_old_host_answering_refuses_it():
    state, guard = network()
    guard.learn(state, mac(1), 1, 1, ip(1), 0.0)
    outcome, probes = guard.learn(state, mac(1), 2, 3, ip(1), 10.0)  # a spoofer on s2 port 3
    assert outcome == PENDING
    assert [probe_fields(p) for p in probes] == [
        (1, 1, mac(1), PROBE_MAC, arp.ARP_REQUEST, "0.0.0.0", ip(1))]
    assert guard.learn(state, mac(1), 2, 3, ip(1), 10.2) == (PENDING, [])  # no second probe
    # the real host answers from s1 port 1; the answer is the controller's alone
    assert handle_packet(probe_answer(1), 1, 1, 10.3, state, FloodGuard(1.0), [1, 2, 3],
                         guard) == (None, [])
    assert (state.hosts[mac(1)].dpid, state.hosts[mac(1)].port) == (1, 1)
    assert dict(guard.refused_total) == {"move_answered": 1}
    assert guard.settle(state, 20.0) == []
    assert (state.hosts[mac(1)].dpid, state.hosts[mac(1)].port) == (1, 1)
    # the refused claim is not probed again for 30 s
    assert guard.learn(state, mac(1), 2, 3, ip(1), 25.0) == (REFUSED, [])
    assert guard.learn(state, mac(1), 2, 3, ip(1), 41.0)[0] == PENDING


def test_a_move_whose_probe_goes_unanswered_is_accepted_after_the_timeout():
    state, guard = network(host_probe_timeout=1.0)
    guard.learn(state, mac(1), 1, 1, ip(1), 0.0)
    assert guard.learn(state, mac(1), 2, 3, ip(1), 10.0)[0] == PENDING
    assert guard.settle(state, 10.9) == []
    assert state.hosts[mac(1)].dpid == 1
    assert guard.settle(state, 11.0) == [mac(1)]
    assert (state.hosts[mac(1)].dpid, state.hosts[mac(1)].port, state.hosts[mac(1)].ip) == (2, 3, ip(1))
    assert guard.learn(state, mac(1), 2, 3, ip(1), 11.1) == (KNOWN, [])


def test_a_pending_claim_waits_no_longer_once_the_old_port_goes_down():
    state, guard = network(host_probe_timeout=1.0)
    guard.learn(state, mac(1), 1, 1, ip(1), 0.0)
    guard.learn(state, mac(1), 2, 3, ip(1), 10.0)
    guard.port_changed(1, 1, down=True)
    assert guard.settle(state, 10.1) == [mac(1)]


def test_a_claimant_waiting_on_its_probe_is_neither_answered_flooded_nor_delivered():
    state, guard = network()
    flood = FloodGuard(1.0)
    guard.learn(state, mac(1), 1, 1, ip(1), 0.0)
    guard.learn(state, mac(2), 3, 1, ip(2), 0.0)
    learned, messages = handle_packet(arp_frame(arp.ARP_REQUEST, 1, ip(2)), 2, 3, 5.0, state, flood,
                                      [1, 2, 3], guard)
    assert learned is None
    assert [probe_fields(m)[:3] for m in messages] == [(1, 1, mac(1))]  # the probe alone
    assert handle_packet(ipv4_frame(1, 2), 2, 3, 5.1, state, flood, [1, 2, 3], guard) == (None, [])


# --- IP claims ----------------------------------------------------------------------------
def test_another_mac_claiming_a_known_ip_is_refused_when_the_holder_answers():
    state, guard = network()
    guard.learn(state, mac(2), 2, 1, ip(2), 0.0)
    outcome, probes = guard.learn(state, mac(3), 3, 1, ip(2), 1.0)  # mac 3 says it is 10.0.0.2
    assert outcome == PENDING
    assert [probe_fields(p) for p in probes] == [
        (2, 1, mac(2), PROBE_MAC, arp.ARP_REQUEST, "0.0.0.0", ip(2))]
    handle_packet(probe_answer(2), 2, 1, 1.2, state, FloodGuard(1.0), [1, 2, 3], guard)
    assert mac(3) not in state.hosts and state.host_by_ip(ip(2)).mac == mac(2)
    assert dict(guard.refused_total) == {"ip_claim_answered": 1}
    assert guard.settle(state, 5.0) == [] and state.host_by_ip(ip(2)).mac == mac(2)


def test_another_mac_claiming_a_known_ip_takes_it_when_the_holder_is_silent():
    state, guard = network(host_probe_timeout=1.0)
    guard.learn(state, mac(2), 2, 1, ip(2), 0.0)
    guard.learn(state, mac(3), 3, 1, ip(2), 1.0)
    assert guard.settle(state, 2.0) == [mac(3)]
    assert state.host_by_ip(ip(2)).mac == mac(3)
    assert state.hosts[mac(2)].ip is None  # the silent one keeps its place, not the address


def test_a_claim_on_the_ip_of_a_host_behind_a_down_port_is_accepted_at_once():
    state, guard = network()
    guard.learn(state, mac(2), 2, 1, ip(2), 0.0)
    guard.port_changed(2, 1, down=True)
    assert guard.learn(state, mac(3), 3, 1, ip(2), 1.0) == (LEARNED, [])
    assert state.host_by_ip(ip(2)).mac == mac(3)


def test_an_arp_request_answered_by_the_controller_names_the_real_holder_while_a_claim_waits():
    state, guard = network()
    flood = FloodGuard(1.0)
    guard.learn(state, mac(2), 2, 1, ip(2), 0.0)
    guard.learn(state, mac(1), 1, 1, ip(1), 0.0)
    guard.learn(state, mac(3), 3, 1, ip(2), 1.0)  # the claim
    _, messages = handle_packet(arp_frame(arp.ARP_REQUEST, 1, ip(2)), 1, 1, 1.1, state, flood,
                                [1, 2, 3], guard)
    answer = packet.Packet(messages[0][1].data).get_protocol(arp.arp)
    assert (answer.src_mac, answer.src_ip) == (mac(2), ip(2))


# --- packet-in budget ---------------------------------------------------------------------
def test_a_port_over_its_packet_in_budget_is_blocked_in_the_switch_for_the_block_time():
    budget = PacketInBudget(per_second=3, block_s=10)
    assert [budget.admit(1, 2, t)[0] for t in (0.0, 0.1, 0.2)] == [True, True, True]
    admitted, rules = budget.admit(1, 2, 0.3)
    assert not admitted and {dpid for dpid, _ in rules} == {1}
    dp = FakeDatapath(1, [])
    parsed = []
    for _, rule in rules:
        rule.datapath = dp
        dp.send_msg(rule)
        parsed.append(reparse(dp, dp.sent[-1]))
    by_priority = {m.priority: m for m in parsed}
    # over the ARP rule for ARP, over the table miss (and under every forwarding rule) otherwise
    arp_drop = next(m for m in parsed if m.match.get("eth_type") == ether.ETH_TYPE_ARP)
    miss_drop = next(m for m in parsed if "eth_type" not in m.match)
    assert arp_drop.priority > ofmsgs.PRIORITY_ARP
    assert ofmsgs.PRIORITY_MISS < miss_drop.priority < min(ofmsgs.PRIORITY_CLASSIFY, ofmsgs.PRIORITY_TUNNEL)
    for m in by_priority.values():
        assert m.match["in_port"] == 2 and m.instructions == [] and m.hard_timeout == 10
        assert m.cookie >> 32 == ofmsgs.APP_COOKIE
    assert budget.admit(1, 2, 5.0) == (False, [])     # stragglers while the rule stands
    assert budget.admit(1, 3, 5.0) == (True, [])      # other ports are not touched
    assert budget.admit(1, 2, 10.4) == (True, [])     # the block is over


def test_the_budget_is_per_second():
    budget = PacketInBudget(per_second=3, block_s=10)
    times = [0.0, 0.3, 0.6, 1.0, 1.3, 1.6, 2.0, 2.3, 2.6]
    assert all(budget.admit(1, 2, t)[0] for t in times)
    assert budget.blocks_total == 0


def test_a_zero_budget_never_blocks():
    budget = PacketInBudget(per_second=0, block_s=10)
    assert all(budget.admit(1, 2, t / 1000) == (True, []) for t in range(5000))


# --- the meter ----------------------------------------------------------------------------
def test_connect_messages_meter_the_to_controller_rules_after_the_deletes():
    messages = connect_messages(ofmsgs.switch_reset(), rate_pps=500)
    dp = FakeDatapath(1, [])
    for message in messages:
        message.datapath = dp
        dp.send_msg(message)
    kinds = [type(m).__name__ for m in dp.sent]
    meter_at = kinds.index("OFPMeterMod")
    meter = dp.sent[meter_at]
    assert meter.meter_id == 1 and meter.flags == ofp.OFPMF_PKTPS | ofp.OFPMF_BURST
    assert [(b.rate, b.burst_size, b.type) for b in meter.bands] == [(500, 500, ofp.OFPMBT_DROP)]
    flow_mods = [reparse(dp, m) for m in dp.sent if isinstance(m, parser.OFPFlowMod)]
    deletes = [i for i, m in enumerate(dp.sent) if isinstance(m, parser.OFPFlowMod)
               and m.command == ofp.OFPFC_DELETE]
    assert deletes and max(deletes) < meter_at
    for mod in flow_mods:
        to_controller = any(getattr(a, "port", None) == ofp.OFPP_CONTROLLER
                            for i in mod.instructions for a in getattr(i, "actions", ()))
        meters = [i.meter_id for i in mod.instructions if isinstance(i, parser.OFPInstructionMeter)]
        assert meters == ([1] if to_controller else [])
        if to_controller:
            assert dp.sent.index(next(m for m in dp.sent if m.xid == mod.xid)) > meter_at


def test_without_a_rate_nothing_is_metered_and_the_originals_are_untouched():
    rules = ofmsgs.base_rules()
    assert connect_messages(rules, 0) == rules
    metered(rules)
    assert not any(isinstance(i, parser.OFPInstructionMeter) for r in rules for i in r.instructions)


# --- a second connection for a dpid ---------------------------------------------------------
@pytest.mark.parametrize("active, dead, unanswered, verdict", [
    (True, False, 0, REFUSE), (True, False, 1, REFUSE),    # alive: the echo in flight at most
    (True, False, 2, REPLACE), (True, False, 4, REPLACE),  # stopped answering
    (False, False, 0, REPLACE), (True, True, 0, REPLACE),  # its connection is gone
])
def test_a_holder_keeps_its_dpid_while_it_answers_echo(active, dead, unanswered, verdict):
    assert holder_verdict(active, dead, unanswered) == verdict


class Connection:
    def __init__(self, dpid, unanswered=0):
        self.id, self.is_active, self.state = dpid, True, "main"
        self.unreplied_echo_requests = list(range(unanswered))
        self.address = ("127.0.0.1", 40000 + unanswered)
        self.closed = False

    def close(self):
        self.closed, self.state = True, "dead"


def test_the_registry_refuses_a_newcomer_while_the_holder_answers_and_lets_it_in_after():
    registry = DpidRegistry(clock=lambda: 0.0)
    first = Connection(1)
    assert registry.claim(first)
    second = Connection(1)
    assert not registry.claim(second) and not first.closed
    assert registry.refused_total == 1 and registry.holders[1] is first
    first.unreplied_echo_requests = [7, 8]  # two echoes unanswered: gone
    third = Connection(1)
    assert registry.claim(third) and first.closed and registry.holders[1] is third
    registry.release(first)  # the late death of the replaced one changes nothing
    assert registry.holders[1] is third
    registry.release(third)
    assert registry.claim(Connection(1))


# --- settings -----------------------------------------------------------------------------
@pytest.mark.parametrize("option, value", [
    ("max_hosts_per_port", "0"), ("max_hosts", "-1"), ("host_probe_timeout", "0"),
    ("packet_in_rate", "-5"), ("packet_in_port_budget", "-1"), ("port_block_seconds", "70000"),
    ("port_block_seconds", "0"), ("max_hosts", "many")])
def test_bad_edge_settings_are_refused_naming_the_option(option, value):
    with pytest.raises(SettingsError, match=option):
        parse_settings({option: value})


def test_zero_turns_the_packet_in_limits_off():
    settings = parse_settings({"packet_in_rate": "0", "packet_in_port_budget": "0"})
    assert (settings.packet_in_rate, settings.packet_in_port_budget) == (0, 0)
