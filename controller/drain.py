"""Drained links: the operator's maintenance action. A drained cable (both directions) leaves the
routing graph the policies decide on, so the next decision moves its traffic off it (make before
break, as any decision); undrained, it is back in the graph. Pure: the live links go in.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable

import networkx as nx

Link = tuple[int, int]


class DrainError(ValueError):
    """A drain request that cannot be carried out; ``status``: the HTTP status it answers."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_link(text: str) -> Link:
    """``"<dpid>-<dpid>"`` (decimal) as a link between distinct switches."""
    parts = text.split("-")
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() and len(part) <= 20
                                  for part in parts):
        raise DrainError(400, f"link {text!r} is not <dpid>-<dpid> (decimal)")
    a, b = int(parts[0]), int(parts[1])
    if a == b:
        raise DrainError(400, f"link {text!r} has the same switch at both ends")
    return a, b


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

    def routing_graph(self, graph: nx.DiGraph) -> nx.DiGraph:
        """``graph`` without the drained cables (a copy when any is drained)."""
        drained = [(a, b) for a, b in graph.edges if cable((a, b)) in self.cables]
        if not drained:
            return graph
        graph = graph.copy()
        graph.remove_edges_from(drained)
        return graph

    def routing_state(self, state):
        """``state`` (a NetworkState) as the tunnels are built on: its links without the drained
        ones, so that no backup path of local protection runs over a drained link either."""
        if not self.cables:
            return state
        return _WithoutLinks(state, {link: ports for link, ports in state.links.items()
                                     if cable(link) not in self.cables})

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
