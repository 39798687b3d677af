"""Drained links (controller.drain): out of the routing graph both ways, refused where unknown
or where the network would be cut."""
from __future__ import annotations

import networkx as nx
import pytest

from controller.drain import DrainedLinks, DrainError, parse_link

# a ring of five: 1-2-3-4-5-1, both directions
RING = [(a, b) for n in range(1, 6) for a, b in ((n, n % 5 + 1), (n % 5 + 1, n))]


def ring_graph():
    graph = nx.DiGraph()
    graph.add_edges_from(RING, capacity=1e7)
    return graph


def test_a_drained_link_leaves_the_graph_in_both_directions_and_comes_back():
    drained = DrainedLinks()
    assert drained.drain((3, 2), RING, range(1, 6))
    graph = drained.routing_graph(ring_graph())
    assert not graph.has_edge(2, 3) and not graph.has_edge(3, 2)
    assert nx.shortest_path(graph, 1, 3) == [1, 5, 4, 3]
    assert ring_graph().has_edge(2, 3)  # the live graph itself is left as it is
    assert drained.is_drained((2, 3)) and drained.describe() == [{"src": 2, "dst": 3}]
    assert not drained.drain((2, 3), RING, range(1, 6))  # already drained
    assert drained.undrain((2, 3), RING)
    assert nx.shortest_path(drained.routing_graph(ring_graph()), 1, 3) == [1, 2, 3]
    assert not drained.undrain((2, 3), RING)


def test_a_drain_that_would_cut_the_network_is_refused_and_changes_nothing():
    drained = DrainedLinks()
    drained.drain((2, 3), RING, range(1, 6))
    with pytest.raises(DrainError) as refused:
        drained.drain((4, 5), RING, range(1, 6))  # the ring is a line now: 4-5 is a bridge
    assert refused.value.status == 409 and "cut the network" in str(refused.value)
    assert drained.describe() == [{"src": 2, "dst": 3}]


def test_a_network_already_in_two_parts_may_drain_within_a_part():
    line = [(1, 2), (2, 1), (2, 3), (3, 2), (1, 3), (3, 1), (4, 5), (5, 4)]  # a triangle and a pair
    drained = DrainedLinks()
    assert drained.drain((1, 2), line, range(1, 6))
    with pytest.raises(DrainError):
        drained.drain((4, 5), line, range(1, 6))


@pytest.mark.parametrize("link", [(1, 3), (7, 8)])
def test_an_unknown_link_is_404(link):
    with pytest.raises(DrainError) as refused:
        DrainedLinks().drain(link, RING, range(1, 6))
    assert refused.value.status == 404
    with pytest.raises(DrainError):
        DrainedLinks().undrain(link, RING)


@pytest.mark.parametrize("text", ["1-1", "a-2", "1-2-3", "1", "-1-2", "١-٢", "1-" + "9" * 30, ""])
def test_a_link_that_is_not_two_dpids_is_400(text):
    with pytest.raises(DrainError) as refused:
        parse_link(text)
    assert refused.value.status == 400


def test_a_link_is_two_decimal_dpids():
    assert parse_link("12-3") == (12, 3)


def test_the_state_tunnels_are_built_on_lacks_the_drained_links_and_keeps_the_rest():
    from controller.netstate import NetworkState

    state = NetworkState()
    for a, b in RING:
        state.add_switch(a)
        state.add_link(a, b, src_port=b, dst_port=a)
    drained = DrainedLinks()
    assert drained.routing_state(state) is state  # nothing drained: the state itself
    drained.drain((2, 3), RING, range(1, 6))
    view = drained.routing_state(state)
    assert set(view.links) == set(RING) - {(2, 3), (3, 2)}
    assert set(state.links) == set(RING) and view.switches == state.switches


def test_a_failure_while_a_cable_is_drained_puts_back_what_reconnects_the_network():
    drained = DrainedLinks()
    drained.drain((2, 3), RING, range(1, 6))
    failed = [link for link in RING if set(link) != {4, 5}]  # 4-5 fails: 2-3 is the only way left
    assert drained.carrying(failed, range(1, 6)) == {(2, 3)}
    graph = nx.DiGraph(failed)
    assert nx.shortest_path(drained.routing_graph(graph), 1, 3) == [1, 2, 3]
    assert drained.is_drained((2, 3))  # still drained: back out once 4-5 is repaired
    assert drained.carrying(RING, range(1, 6)) == set()
    assert not drained.routing_graph(nx.DiGraph(RING)).has_edge(2, 3)


def test_of_several_drained_cables_only_those_reconnecting_the_network_carry_in_sorted_order():
    # a square 1-2-3-4-1 with its diagonal 1-3, all drained but 3-4 and 4-1
    square = [(a, b) for a, b in ((1, 2), (2, 3), (3, 4), (4, 1), (1, 3))]
    links = square + [(b, a) for a, b in square]
    drained = DrainedLinks()
    drained.cables |= {(1, 2), (2, 3), (1, 3)}
    # 2 is cut off: 1-2 and 2-3 would each reconnect it; the first in sorted order does
    assert drained.carrying(links, range(1, 5)) == {(1, 2)}
