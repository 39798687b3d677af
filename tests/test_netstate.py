"""NetworkState and RateMeter: the controller's view of the network, without Ryu."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from controller.netstate import HostLocation, LinkPorts, NetworkState, RateMeter


def line_state():
    """s1 -(2/3)- s2 -(2/3)- s3: port 2 points right, port 3 left, port 1 is a host port."""
    state = NetworkState(default_capacity_bps=10e6)
    for a, b in ((1, 2), (2, 3)):
        state.add_link(a, b, 2, 3)
        state.add_link(b, a, 3, 2)
    return state


def test_add_link_records_ports_and_switches_and_reports_changes():
    state = NetworkState()
    assert state.add_link(1, 2, 5, 6) is True
    assert state.links[(1, 2)] == LinkPorts(5, 6)
    assert state.switches == {1, 2}
    assert state.add_link(1, 2, 5, 6) is False      # same link again: no change
    assert state.add_link(1, 2, 7, 6) is True       # moved to another port
    assert state.links[(1, 2)] == LinkPorts(7, 6)
    assert (2, 1) not in state.links                 # links are directed


def test_remove_link_drops_its_load_and_reports_whether_it_existed():
    state = line_state()
    state.load_bps[(1, 2)] = 5e6
    assert state.remove_link(1, 2) is True
    assert (1, 2) not in state.links and (1, 2) not in state.load_bps
    assert state.remove_link(1, 2) is False
    assert (2, 1) in state.links


def test_port_lookups():
    state = line_state()
    assert state.link_at_port(2, 2) == (2, 3)
    assert state.link_at_port(2, 3) == (2, 1)
    assert state.link_at_port(2, 1) is None
    assert sorted(state.links_at_port(2, 2)) == [(2, 3), (3, 2)]
    assert state.is_link_port(3, 3) and not state.is_link_port(3, 1)


def test_learn_host_reports_new_and_moved_hosts_and_keeps_its_ip():
    state = line_state()
    assert state.learn_host("aa", 1, 1, "10.0.0.1") is True
    assert state.learn_host("aa", 1, 1) is False                 # same place
    assert state.hosts["aa"] == HostLocation("aa", 1, 1, "10.0.0.1")
    assert state.learn_host("aa", 3, 1) is True                  # moved
    assert state.hosts["aa"] == HostLocation("aa", 3, 1, "10.0.0.1")
    assert state.host_by_ip("10.0.0.1").dpid == 3
    assert state.host_by_ip("10.0.0.9") is None


def test_learn_host_refuses_link_ports():
    state = line_state()
    assert state.learn_host("aa", 2, 3, "10.0.0.1") is False
    assert state.hosts == {}


def test_hosts_on_a_port_that_becomes_a_link_are_dropped():
    state = line_state()
    state.learn_host("aa", 3, 2)     # s3 port 2 looked like an edge port ...
    state.learn_host("bb", 1, 1)
    state.learn_host("cc", 4, 3)
    state.add_link(3, 4, 2, 3)       # ... until LLDP found a switch behind it
    assert set(state.hosts) == {"bb"}


def test_remove_switch_drops_its_links_and_hosts():
    state = line_state()
    state.learn_host("aa", 2, 1)
    state.learn_host("bb", 1, 1)
    state.load_bps[(1, 2)] = 1.0
    gone = state.remove_switch(2)
    assert sorted(gone) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    assert state.links == {} and state.load_bps == {}
    assert state.switches == {1, 3}
    assert set(state.hosts) == {"bb"}


def test_utilisation_uses_per_link_capacity_or_the_default():
    state = line_state()
    state.load_bps[(1, 2)] = 2.5e6
    state.load_bps[(2, 3)] = 2.5e6
    state.capacity_bps[(2, 3)] = 100e6
    assert state.utilisation((1, 2)) == pytest.approx(0.25)
    assert state.utilisation((2, 3)) == pytest.approx(0.025)
    assert state.utilisation((3, 2)) == 0.0


def test_graph_snapshot_carries_link_attributes_and_is_independent():
    state = line_state()
    state.add_switch(9)                 # isolated switch is still a node
    state.load_bps[(1, 2)] = 5e6
    graph = state.graph()
    assert sorted(graph.nodes) == [1, 2, 3, 9]
    assert sorted(graph.edges) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    edge = graph[1][2]
    assert edge["src_port"] == 2 and edge["dst_port"] == 3
    assert edge["capacity"] == 10e6 and edge["load"] == 5e6
    assert edge["utilisation"] == pytest.approx(0.5)
    assert graph[2][1]["load"] == 0.0 and graph[2][1]["utilisation"] == 0.0
    state.remove_link(1, 2)
    state.load_bps[(2, 3)] = 1.0
    assert graph.has_edge(1, 2) and graph[2][3]["load"] == 0.0   # a snapshot, not a view


# --- RateMeter ----------------------------------------------------------------------------
def test_rate_needs_two_samples_and_is_bits_per_second():
    meter = RateMeter()
    assert meter.update((1, 2), 10.0, 1000) is None
    assert meter.update((1, 2), 12.0, 1000 + 250_000) == pytest.approx(1e6)
    assert meter.update((1, 3), 12.0, 5) is None        # ports are separate


def test_a_replaced_counter_gives_no_rate_even_when_its_bytes_carried_over():
    """Open vSwitch restarts a rewritten rule's age but may keep its byte count: the cookie
    (generation) tells the samples apart."""
    meter = RateMeter()
    assert meter.update("rule", 1.0, 1_000, generation=1) is None
    assert meter.update("rule", 1.5, 900_000, generation=2) is None  # rewritten: age 1.5 > 1.0
    assert meter.update("rule", 3.5, 900_000 + 250_000, generation=2) == pytest.approx(1e6)


def test_counter_reset_returns_none_then_measures_from_the_new_base():
    meter = RateMeter()
    meter.update((1, 2), 0.0, 10_000)
    assert meter.update((1, 2), 1.0, 100) is None        # switch restarted
    assert meter.update((1, 2), 2.0, 225) == pytest.approx(1000.0)


def test_non_increasing_time_returns_none():
    meter = RateMeter()
    meter.update((1, 2), 5.0, 0)
    assert meter.update((1, 2), 5.0, 100) is None
    assert meter.update((1, 2), 4.0, 200) is None


def test_forget_switch_only_forgets_that_switch():
    meter = RateMeter()
    meter.update((1, 2), 0.0, 0)
    meter.update((2, 2), 0.0, 0)
    meter.forget_switch(1)
    assert meter.update((1, 2), 1.0, 100) is None
    assert meter.update((2, 2), 1.0, 100) == pytest.approx(800.0)


@settings(max_examples=100, deadline=None)
@given(start=st.integers(0, 2**63), delta=st.integers(0, 2**40),
       elapsed=st.floats(min_value=1e-3, max_value=1e5))
def test_rate_is_never_negative_and_matches_the_byte_delta(start, delta, elapsed):
    meter = RateMeter()
    meter.update((7, 1), 100.0, start)
    rate = meter.update((7, 1), 100.0 + elapsed, start + delta)
    assert rate is not None and rate >= 0
    assert rate == pytest.approx(delta * 8 / ((100.0 + elapsed) - 100.0))


def test_link_facts_give_capacities_and_ospf_weights_to_the_graph():
    state = line_state()
    state.apply_link_facts([(1, 2, 100e6, 7.0)])
    state.load_bps[(1, 2)] = 50e6
    graph = state.graph()
    assert graph[1][2]["capacity"] == 100e6 and graph[1][2]["ospf"] == 7.0
    assert graph[1][2]["utilisation"] == pytest.approx(0.5)
    assert graph[2][1]["capacity"] == 10e6 and graph[2][1]["ospf"] == 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3),
                          st.integers(1, 3)), max_size=40))
def test_port_index_matches_a_scan_after_any_adds_moves_and_removals(ops):
    state = NetworkState()
    for add, src, dst, src_port, dst_port in ops:
        if src == dst:
            continue
        if add:
            state.add_link(src, dst, src_port, dst_port)
        else:
            state.remove_link(src, dst)
    for dpid in range(1, 5):
        for port in range(1, 4):
            scan = sorted(link for link, p in state.links.items()
                          if (link[0] == dpid and p.src_port == port)
                          or (link[1] == dpid and p.dst_port == port))
            assert state.links_at_port(dpid, port) == scan
            leaving = [link for link in scan if link[0] == dpid and state.links[link].src_port == port]
            assert state.link_at_port(dpid, port) in (leaving or [None])


def test_edge_ports_are_the_ports_without_a_link_and_follow_port_changes():
    state = line_state()
    state.set_ports(2, {1, 2, 3, 4})
    assert state.edge_ports(2) == [1, 4] and state.edge_ports(9) == []
    assert state.port_changed(2, 5, present=True, down=False) == []
    assert state.edge_ports(2) == [1, 4, 5]
    # s2's port 2 goes down: its link goes, both ways, and the port is an edge port now
    assert state.port_changed(2, 2, present=True, down=True) == [(2, 3), (3, 2)]
    assert (2, 3) not in state.links and (3, 2) not in state.links and (2, 1) in state.links
    assert state.edge_ports(2) == [1, 2, 4, 5]
    state.port_changed(2, 4, present=False, down=True)  # deleted
    assert state.edge_ports(2) == [1, 2, 5]
    state.remove_switch(2)
    assert state.edge_ports(2) == [] and 2 not in state.ports


def test_switch_pairs_are_the_ordered_pairs_of_distinct_switches_with_hosts():
    state = line_state()
    assert state.switch_pairs() == []
    state.learn_host("aa", 1, 1)
    state.learn_host("bb", 3, 1)
    state.learn_host("cc", 3, 4)        # a second host on s3 adds no pair; s2 has none
    assert state.switch_pairs() == [(1, 3), (3, 1)]
    state.learn_host("dd", 2, 1)
    assert state.switch_pairs() == [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2)]
    state.learn_host("aa", 3, 5)        # s1's only host moved away
    assert state.switch_pairs() == [(2, 3), (3, 2)]


def test_set_load_is_what_utilisation_and_the_graph_read():
    state = line_state()
    state.set_load((1, 2), 2.5e6)
    assert state.utilisation((1, 2)) == pytest.approx(0.25)
    assert state.graph()[1][2]["congestion"] == pytest.approx(3.5)
