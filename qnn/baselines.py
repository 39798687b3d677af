"""Classical routings to compare against: shortest path and ECMP.

They do not need candidate paths; they return a :class:`LinkRouting`, the fraction of each demand
on each link, from which loads for any demand vector follow. The optimisation baselines (path LP,
single-path MILP, multicommodity flow) are in :mod:`qnn.lp`.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from qnn.network import Network


@dataclass
class LinkRouting:
    """Link-form routing: ``fractions[d, l]`` = share of demand d crossing link l (CSR ``(D, L)``)."""

    fractions: sp.csr_matrix

    def loads(self, demand: np.ndarray) -> np.ndarray:
        """Link loads ``(T, L)`` for demand ``(T, D)`` or ``(D,)``."""
        demand = np.atleast_2d(np.asarray(demand, dtype=float))
        return np.asarray((self.fractions.T @ demand.T).T)

    def expected_hops(self) -> np.ndarray:
        """Mean hop count per demand (each unit of traffic crosses sum_l fraction links)."""
        return np.asarray(self.fractions.sum(axis=1)).ravel()


def shortest_path_routing(network: Network, demands, weight: str = "weight") -> LinkRouting:
    """Each demand on one shortest path by OSPF ``weight`` or by ``"hops"`` (networkx tie-break)."""
    g = network.graph()
    attr = "weight" if weight == "weight" else None
    rows, cols = [], []
    by_source: dict[int, dict] = {}
    for d, (s, t) in enumerate(demands):
        if s not in by_source:
            by_source[s] = (nx.single_source_dijkstra_path(g, s, weight=attr) if attr
                            else nx.single_source_shortest_path(g, s))
        links = network.path_links(by_source[s][t])
        rows.extend([d] * len(links))
        cols.extend(links)
    fractions = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(demands), network.n_links))
    return LinkRouting(fractions)


def ecmp_routing(network: Network, demands, rel_tol: float = 1e-9) -> LinkRouting:
    """Hop-by-hop ECMP on OSPF weights: every router splits equally over its shortest next hops.

    For each destination, traffic from all its sources is pushed down the shortest-path DAG in
    order of decreasing distance, vectorised over sources.
    """
    g = network.graph()
    demands = list(demands)
    by_dst: dict[int, list[int]] = {}
    for d, (_, t) in enumerate(demands):
        by_dst.setdefault(t, []).append(d)
    out_links: list[list[int]] = [[] for _ in network.nodes]
    for i, (u, _) in enumerate(network.links):
        out_links[u].append(i)
    rows, cols, vals = [], [], []
    reverse = g.reverse(copy=False)
    for t, ds in by_dst.items():
        dist = nx.single_source_dijkstra_path_length(reverse, t, weight="weight")
        sources = np.array([demands[d][0] for d in ds])
        reach = np.zeros((len(ds), network.n_nodes))
        reach[np.arange(len(ds)), sources] = 1.0
        for u in sorted(dist, key=dist.get, reverse=True):
            if u == t:
                continue
            hops = [i for i in out_links[u]
                    if network.links[i][1] in dist
                    and abs(dist[u] - network.weight[i] - dist[network.links[i][1]])
                    <= rel_tol * max(1.0, dist[u])]
            share = reach[:, u] / len(hops)
            nz = np.flatnonzero(share)
            if len(nz) == 0:
                continue
            for i in hops:
                reach[:, network.links[i][1]] += share
                rows.extend(np.asarray(ds)[nz])
                cols.extend([i] * len(nz))
                vals.extend(share[nz])
    return LinkRouting(sp.csr_matrix((vals, (rows, cols)), shape=(len(demands), network.n_links)))
