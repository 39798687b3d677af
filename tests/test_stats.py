"""Port and flow rates from literal OpenFlow statistics entries, and the timing rule."""
from __future__ import annotations

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import ofmsgs
from controller.netstate import HostLocation, NetworkState
from controller.stats import UNKNOWN_DURATION, FlowRates, PortRates, counter_age, poll_requests

A, B = "00:00:00:00:00:0a", "00:00:00:00:00:0b"
INGRESS_RULE = ofmsgs.cookie(3, ingress=True)


def port_stat(port_no, tx_bytes, seconds, nanoseconds=0):
    return parser.OFPPortStats(port_no=port_no, rx_packets=0, tx_packets=0, rx_bytes=0,
                               tx_bytes=tx_bytes, rx_dropped=0, tx_dropped=0, rx_errors=0,
                               tx_errors=0, rx_frame_err=0, rx_over_err=0, rx_crc_err=0,
                               collisions=0, duration_sec=seconds, duration_nsec=nanoseconds)


def flow_stat(src, dst, byte_count, seconds, cookie=INGRESS_RULE):
    return parser.OFPFlowStats(table_id=0, duration_sec=seconds, duration_nsec=0,
                               priority=ofmsgs.PRIORITY_PATH, idle_timeout=0, hard_timeout=0,
                               flags=0, cookie=cookie, packet_count=0, byte_count=byte_count,
                               match=parser.OFPMatch(eth_src=src, eth_dst=dst), instructions=[])


def two_switches():
    state = NetworkState()
    state.add_link(1, 2, 2, 3)
    state.add_link(2, 1, 3, 2)
    return state


def test_counter_age_adds_the_nanoseconds():
    assert counter_age(port_stat(1, 0, 12, 250_000_000)) == pytest.approx(12.25)


def test_port_rates_are_timed_by_the_ports_age_whenever_the_reply_arrives():
    rates, state = PortRates(stats_interval=2.0), two_switches()
    assert rates.update(1, [port_stat(2, 0, 100)], now=5.0, state=state) == []  # one sample: no rate
    # 2.5 MB in the port's own 2 s, however close together the replies were handled
    second = rates.update(1, [port_stat(2, 2_500_000, 102), port_stat(1, 9_999, 102)], now=5.001,
                          state=state)
    assert second == [((1, 2), pytest.approx(10e6))]  # port 1 carries no link: no link load


def test_port_rates_without_port_durations_are_timed_by_arrival_at_least_half_an_interval_apart():
    rates, state = PortRates(stats_interval=2.0), two_switches()
    unknown = UNKNOWN_DURATION
    assert rates.update(1, [port_stat(2, 0, unknown, unknown)], now=1000.0, state=state) == []
    assert rates.update(1, [port_stat(2, 2_500_000, unknown, unknown)], now=1002.0, state=state) == [
        ((1, 2), pytest.approx(10e6))]
    # 0.9 s later (< half the 2 s interval): no rate, and 1002.0 stays the base
    assert rates.update(1, [port_stat(2, 3_000_000, unknown, unknown)], now=1002.9, state=state) == []
    assert rates.update(1, [port_stat(2, 3_750_000, unknown, unknown)], now=1003.0, state=state) == [
        ((1, 2), pytest.approx(10e6))]  # 1.25 MB over the 1 s since 1002.0


def test_port_rates_forget_a_switch():
    rates, state = PortRates(stats_interval=2.0), two_switches()
    rates.update(1, [port_stat(2, 0, 100)], now=0.0, state=state)
    rates.update(2, [port_stat(3, 0, 100)], now=0.0, state=state)
    rates.forget_switch(1)
    assert rates.update(1, [port_stat(2, 2_500_000, 102)], now=0.0, state=state) == []
    assert rates.update(2, [port_stat(3, 250_000, 102)], now=0.0, state=state) == [
        ((2, 1), pytest.approx(1e6))]


def test_flow_rates_count_a_flow_at_its_ingress_switch_only():
    hosts = {A: HostLocation(A, 1, 1), B: HostLocation(B, 2, 1)}
    rates, installed = FlowRates(), {(A, B): (), (B, A): ()}
    rates.update(1, [flow_stat(A, B, 1_000, 10)], hosts, installed)
    rates.update(1, [flow_stat(A, B, 1_000 + 2_500_000, 12), flow_stat(B, A, 5, 12)], hosts, installed)
    rates.update(2, [flow_stat(A, B, 0, 10), flow_stat(A, B, 9_000_000, 12)], hosts, installed)
    assert rates.bps == {(A, B): pytest.approx(10e6)}  # B->A enters at s2; s2 is transit for A->B


def test_a_rewritten_rule_gives_no_rate_from_its_carried_over_counter():
    hosts = {A: HostLocation(A, 1, 1)}
    rates, installed = FlowRates(), {(A, B): ()}
    rates.update(1, [flow_stat(A, B, 1_000_000, 10, cookie=ofmsgs.cookie(3, True))], hosts, installed)
    # a new epoch's rule: its age restarted but Open vSwitch kept the byte count
    rates.update(1, [flow_stat(A, B, 1_250_000, 1, cookie=ofmsgs.cookie(4, True))], hosts, installed)
    assert rates.bps == {}
    rates.update(1, [flow_stat(A, B, 1_375_000, 2, cookie=ofmsgs.cookie(4, True))], hosts, installed)
    assert rates.bps == {(A, B): pytest.approx(1e6)}


def test_flow_rates_of_flows_not_installed_are_ignored_and_dropped_when_uninstalled():
    hosts = {A: HostLocation(A, 1, 1), B: HostLocation(B, 1, 2)}
    rates = FlowRates()
    for age, count in ((10, 0), (11, 125_000)):
        rates.update(1, [flow_stat(A, B, count, age), flow_stat(B, A, count, age)], hosts, {(A, B)})
    assert rates.bps == {(A, B): pytest.approx(1e6)}
    rates.keep_only(set())
    assert rates.bps == {} and rates.meter.samples == {}


def test_poll_asks_every_switch_for_port_stats_and_ingress_switches_for_flow_stats():
    hosts = {A: HostLocation(A, 1, 1), B: HostLocation(B, 3, 1)}
    requests = poll_requests([1, 2, 3], hosts)
    assert [(dpid, type(msg).__name__) for dpid, msg in requests] == [
        (1, "OFPPortStatsRequest"), (1, "OFPFlowStatsRequest"), (2, "OFPPortStatsRequest"),
        (3, "OFPPortStatsRequest"), (3, "OFPFlowStatsRequest")]
    assert all(msg.port_no == ofp.OFPP_ANY for _, msg in requests if hasattr(msg, "port_no"))
