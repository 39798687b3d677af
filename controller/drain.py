"""Drained links: the operator's maintenance action. A drained cable (both directions) leaves the
routing graph the policies decide on, so the next decision moves its traffic off it (make before
break, as any decision); undrained, it is back in the graph. Where a failure while links are
drained would leave switches unable to reach one another without them, the drained cables
needed to reconnect them stay in the graph ("carrying") until the failure is repaired or the
drain lifted. Pure: the live links go in.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable

import networkx as nx

from controller.splits import parse_dpid_pair

Link = tuple[int, int]


class DrainError(ValueError):
    """A drain request that cannot be carried out; ``status``: the HTTP status it answers."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_link(text: str) -> Link:
    """``"<dpid>-<dpid>"`` (decimal) as a link between distinct switches."""
    return parse_dpid_pair(text, "link", "<dpid>-<dpid>", lambda message: DrainError(400, message))


def cable(link: Link) -> Link:
    """The two directions of a link as one key."""
    return (min(link), max(link))


class DrainedLinks:
    """The cables an operator took out of the routing graph."""

    def __init__(self):
        self.cables: set[Link] = set()

    def is_drained(self, link: Link) -> bool:
        return cable(link) in self.cables

    def drain(self, link: Link, live_links: Collection[Link], switches: Iterable[int]) -> bool:
        """Take ``link``'s cable out of the graph; returns whether it was in. DrainError 404 for
        a link that is not among ``live_links`` (directed) and 409 where the switches that are
        connected now (over the live, undrained links) would no longer all reach one another."""
        key = cable(link)
        if key in self.cables:
            return False
        if link not in live_links and link[::-1] not in live_links:
            raise DrainError(404, f"no link {link[0]}-{link[1]} between connected switches")
        before = _components(self._undrained(live_links), switches)
        self.cables.add(key)
        after = _components(self._undrained(live_links), switches)
        if after > before:
            self.cables.discard(key)
            raise DrainError(409, f"draining {link[0]}-{link[1]} would cut the network in two: "
                                  "some switches would have no path left between them")
        return True

    def undrain(self, link: Link, live_links: Collection[Link]) -> bool:
        """Put ``link``'s cable back; returns whether it was drained. DrainError 404 for a link
        neither drained nor live."""
        key = cable(link)
        if key in self.cables:
            self.cables.discard(key)
            return True
        if link not in live_links and link[::-1] not in live_links:
            raise DrainError(404, f"no link {link[0]}-{link[1]} between connected switches")
        return False

    def carrying(self, live_links: Collection[Link], switches: Iterable[int],
                 cables: Collection[Link] | None = None) -> set[Link]:
        """The drained cables (``cables``, default the drained ones now) kept in the graph
        because the live links without them leave switches that the live links connect
        unable to reach one another (a failure while a link is drained): in sorted order, each
        live drained cable that joins two groups of the undrained graph (a spanning forest over
        the drained cables), so that no pair loses its path to a drain."""
        cables = self.cables if cables is None else cables
        if not cables:
            return set()
        graph = nx.Graph()
        graph.add_nodes_from(switches)
        graph.add_edges_from(link for link in live_links if cable(link) not in cables)
        group = {node: number for number, nodes in enumerate(nx.connected_components(graph))
                 for node in nodes}
        live = {cable(link) for link in live_links}
        kept = set()
        for a, b in sorted(set(cables) & live):
            if a in group and b in group and group[a] != group[b]:
                kept.add((a, b))
                old, new = group[b], group[a]
                group = {node: new if number == old else number for node, number in group.items()}
        return kept

    def out_of_graph(self, live_links: Collection[Link], switches: Iterable[int]) -> frozenset[Link]:
        """The cables the routing graph leaves out now: the drained ones not :meth:`carrying`."""
        return frozenset(self.cables - self.carrying(live_links, switches))

    def routing_graph(self, graph: nx.DiGraph, out: Collection[Link] | None = None) -> nx.DiGraph:
        """``graph`` without the cables ``out`` (default: :meth:`out_of_graph` of ``graph``'s
        links), a copy when any is there."""
        if out is None:
            out = self.out_of_graph(list(graph.edges), graph.nodes)
        removed = [(a, b) for a, b in graph.edges if cable((a, b)) in out]
        if not removed:
            return graph
        graph = graph.copy()
        graph.remove_edges_from(removed)
        return graph

    def routing_state(self, state, out: Collection[Link] | None = None):
        """``state`` (a NetworkState) as the tunnels are built on: its links without the cables
        ``out`` (default: :meth:`out_of_graph` of its links), so that no backup path of local
        protection runs over a drained link either."""
        if out is None:
            out = self.out_of_graph(state.links, state.switches)
        if not out:
            return state
        return _WithoutLinks(state, {link: ports for link, ports in state.links.items()
                                     if cable(link) not in out})

    def describe(self) -> list[dict]:
        return [{"src": a, "dst": b} for a, b in sorted(self.cables)]

    def _undrained(self, links: Collection[Link]) -> list[Link]:
        return [link for link in links if cable(link) not in self.cables]


class _WithoutLinks:
    """A read-only view of a NetworkState with other links."""

    def __init__(self, state, links):
        self._state = state
        self.links = links

    def __getattr__(self, name):
        return getattr(self._state, name)


def _components(links: Iterable[Link], switches: Iterable[int]) -> int:
    """How many groups of switches reach one another (a link counts in either direction)."""
    graph = nx.Graph()
    graph.add_nodes_from(switches)
    graph.add_edges_from(links)
    return nx.number_connected_components(graph)
