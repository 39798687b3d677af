"""The network model every other module works on: nodes, directed links, capacities, weights."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import networkx as nx
import numpy as np


@dataclass
class Network:
    """A directed network whose link index is its position in ``links``.

    Nodes are the integers ``0..N-1`` (traffic matrices are indexed by them); ``node_names``
    gives a human label for each. ``capacity`` is in bit/s, ``weight`` is the OSPF-like
    routing weight used by shortest-path routing.
    """

    name: str
    nodes: list[int]
    links: list[tuple[int, int]]
    capacity: np.ndarray
    weight: np.ndarray
    node_names: list[str] = field(default_factory=list)
    link_index: dict[tuple[int, int], int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.nodes = [int(n) for n in self.nodes]
        if self.nodes != list(range(len(self.nodes))):
            raise ValueError(f"{self.name}: nodes must be 0..N-1 in order, got {self.nodes[:5]}...")
        self.links = [(int(u), int(v)) for u, v in self.links]
        self.capacity = np.asarray(self.capacity, dtype=float)
        self.weight = np.asarray(self.weight, dtype=float)
        if self.capacity.shape != (len(self.links),) or self.weight.shape != (len(self.links),):
            raise ValueError(f"{self.name}: capacity and weight need one value per link")
        if np.any(~np.isfinite(self.capacity)) or np.any(self.capacity <= 0):
            raise ValueError(f"{self.name}: capacities must be positive and finite")
        if np.any(~np.isfinite(self.weight)) or np.any(self.weight <= 0):
            raise ValueError(f"{self.name}: weights must be positive and finite")
        self.link_index = {}
        n = len(self.nodes)
        for i, (u, v) in enumerate(self.links):
            if u == v or not (0 <= u < n and 0 <= v < n):
                raise ValueError(f"{self.name}: link {i} ({u},{v}) is a loop or has an unknown node")
            if (u, v) in self.link_index:
                raise ValueError(f"{self.name}: duplicate link ({u},{v})")
            self.link_index[(u, v)] = i
        if not self.node_names:
            self.node_names = [str(n) for n in self.nodes]

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_links(self) -> int:
        return len(self.links)

    def graph(self) -> nx.DiGraph:
        """A networkx view with edge attributes ``capacity``, ``weight`` and ``index``."""
        g = nx.DiGraph(name=self.name)
        for n in self.nodes:
            g.add_node(n, name=self.node_names[n])
        for i, (u, v) in enumerate(self.links):
            g.add_edge(u, v, capacity=float(self.capacity[i]), weight=float(self.weight[i]), index=i)
        return g

    def path_links(self, path: Sequence[int]) -> list[int]:
        """Link ids along a node path; KeyError names the first missing hop."""
        return [self.link_index[(u, v)] for u, v in zip(path[:-1], path[1:])]
