"""Port rates and switch-pair demands from literal OpenFlow statistics entries, and the timing rule."""
from __future__ import annotations

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.netstate import HostLocation, NetworkState
from controller.stats import UNKNOWN_DURATION, PairRates, PortRates, counter_age, poll_requests

A, B = "00:00:00:00:00:0a", "00:00:00:00:00:0b"


def port_stat(port_no, tx_bytes, seconds, nanoseconds=0):
    return parser.OFPPortStats(port_no=port_no, rx_packets=0, tx_packets=0, rx_bytes=0,
                               tx_bytes=tx_bytes, rx_dropped=0, tx_dropped=0, rx_errors=0,
                               tx_errors=0, rx_frame_err=0, rx_over_err=0, rx_crc_err=0,
                               collisions=0, duration_sec=seconds, duration_nsec=nanoseconds)


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


def group_stat(group_id, byte_count, seconds, buckets=()):
    return parser.OFPGroupStats(length=0, group_id=group_id, ref_count=1, packet_count=0,
                                byte_count=byte_count, duration_sec=seconds, duration_nsec=0,
                                bucket_stats=[parser.OFPBucketCounter(packet_count=0, byte_count=b)
                                              for b in buckets])


def groups_of(served):
    """group_pair for a data plane serving `served`: {(dpid, group_id): pair}."""
    return lambda dpid, group_id: served.get((dpid, group_id))


def test_pair_demand_is_the_ingress_groups_byte_rate_and_buckets_are_kept_beside_it():
    rates, served = PairRates(), groups_of({(1, 3): (1, 3)})
    rates.update(1, [group_stat(3, 1_000, 10, buckets=(600, 400))], served)
    assert rates.bps == {} and rates.bucket_bps == {}  # one sample: no rate yet
    # 2.5 MB in the group's own 2 s: 10 Mbit/s, 7.5 of it in bucket 0 and 2.5 in bucket 1
    rates.update(1, [group_stat(3, 2_501_000, 12, buckets=(1_875_600, 625_400)), group_stat(9, 5, 12)],
                 served)
    assert rates.bps == {(1, 3): pytest.approx(10e6)}  # group 9 is not qroute's: ignored
    assert rates.bucket_bps[(1, 3)] == (pytest.approx(7.5e6), pytest.approx(2.5e6))


def test_a_modified_group_gives_no_rate_from_its_reset_counters():
    # Open vSwitch resets a group's counters on OFPGC_MODIFY but keeps its duration
    rates, served, split = PairRates(), groups_of({(1, 3): (1, 3)}), {"now": "a"}
    generation = lambda pair: split["now"]  # noqa: E731 - what the installed group holds
    rates.update(1, [group_stat(3, 5_000_000, 10)], served, generation)
    split["now"] = "b"  # reweighted: counters reset
    rates.update(1, [group_stat(3, 125_000, 11)], served, generation)
    assert rates.bps == {}
    rates.update(1, [group_stat(3, 250_000, 12)], served, generation)
    assert rates.bps == {(1, 3): pytest.approx(1e6)}


def test_pair_rates_forget_uninstalled_pairs_and_a_switchs_groups():
    rates = PairRates()
    served = groups_of({(1, 2): (1, 2), (2, 1): (2, 1)})
    for age, count in ((10, 0), (11, 125_000)):
        rates.update(1, [group_stat(2, count, age)], served)
        rates.update(2, [group_stat(1, count, age)], served)
    assert rates.bps == {(1, 2): pytest.approx(1e6), (2, 1): pytest.approx(1e6)}
    rates.keep_only({(2, 1)})
    assert rates.bps == {(2, 1): pytest.approx(1e6)}
    rates.forget_switch(2)
    assert rates.bps == {} and rates.meter.samples == {(1, 2): rates.meter.samples[(1, 2)]}


def test_held_demand_is_the_highest_rate_of_the_hold_window_and_the_last_rate_without_one():
    held, last = PairRates(hold=3.0), PairRates()
    served = groups_of({(1, 3): (1, 3)})
    # a pair at 8 Mbit/s throttled to 2 (a full link), then back to 4: 1 MB, 250 kB, 500 kB a second
    count = 0
    for second, sent in enumerate((0, 1_000_000, 250_000, 250_000, 250_000, 500_000)):
        count += sent
        for rates in (held, last):
            rates.update(1, [group_stat(3, count, 10 + second)], served, now=100.0 + second)
        if second == 3:  # the 8 Mbit/s of second 1 is 2 s old: held
            assert held.demand(103.0) == {(1, 3): pytest.approx(8e6)}
    assert last.demand(105.0) == {(1, 3): pytest.approx(4e6)}
    # seconds 2..5 are within 3 s of 105: 2, 2, 2 and 4 Mbit/s; the 8 of second 1 has left the window
    assert held.demand(105.0) == {(1, 3): pytest.approx(4e6)}
    assert len(held.recent[(1, 3)]) == 4  # older rates are not kept
    # no rate within the window (the switch stopped answering): the last one stands
    assert held.demand(200.0) == {(1, 3): pytest.approx(4e6)}
    held.keep_only(set())
    assert held.demand(105.0) == {} and held.recent == {}


def test_poll_asks_every_switch_for_port_stats_and_host_switches_for_group_stats():
    hosts = {A: HostLocation(A, 1, 1), B: HostLocation(B, 3, 1)}
    requests = poll_requests([1, 2, 3], hosts)
    assert [(dpid, type(msg).__name__) for dpid, msg in requests] == [
        (1, "OFPPortStatsRequest"), (1, "OFPGroupStatsRequest"), (2, "OFPPortStatsRequest"),
        (3, "OFPPortStatsRequest"), (3, "OFPGroupStatsRequest")]
    assert all(msg.port_no == ofp.OFPP_ANY for _, msg in requests if hasattr(msg, "port_no"))
    assert all(msg.group_id == ofp.OFPG_ALL for _, msg in requests if hasattr(msg, "group_id"))
