"""Candidate paths per demand, in fixed k slots, and their sparse path-link incidence."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp

from qnn.network import Network


@dataclass
class PathSet:
    """Up to ``k`` candidate paths for each demand (an ordered node pair).

    ``paths[d][j]`` is a node tuple for the real slots (``mask[d, j]``); demands with fewer
    than k paths are padded with empty tuples, unmasked, and zero rows in ``incidence``.
    ``incidence`` is CSR of shape ``(D*k, L)``: row ``d*k + j`` has a 1 on every link of path j
    of demand d. ``hops`` is the hop count per slot (0 for padding) and ``shortest_hops`` the
    hop count of the shortest path in the whole network (the stretch reference).
    """

    network: Network
    demands: list[tuple[int, int]]
    paths: list[list[tuple[int, ...]]]
    k: int
    mask: np.ndarray = field(init=False)
    incidence: sp.csr_matrix = field(init=False, repr=False)
    hops: np.ndarray = field(init=False, repr=False)
    shortest_hops: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        D, k = len(self.demands), self.k
        self.mask = np.zeros((D, k), dtype=bool)
        self.hops = np.zeros((D, k))
        rows, cols = [], []
        padded = []
        for d, ((src, dst), cands) in enumerate(zip(self.demands, self.paths)):
            if not cands:
                raise ValueError(f"demand {src}->{dst} has no candidate path")
            if len(cands) > k:
                raise ValueError(f"demand {src}->{dst} has {len(cands)} paths for {k} slots")
            for j, path in enumerate(cands):
                if path[0] != src or path[-1] != dst:
                    raise ValueError(f"path {path} does not join {src} to {dst}")
                links = self.network.path_links(path)
                rows.extend([d * k + j] * len(links))
                cols.extend(links)
                self.mask[d, j] = True
                self.hops[d, j] = len(links)
            padded.append(list(cands) + [()] * (k - len(cands)))
        self.paths = padded
        self.incidence = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(D * k, self.network.n_links)
        )
        self._src = np.array([s for s, _ in self.demands], dtype=int)
        self._dst = np.array([t for _, t in self.demands], dtype=int)
        self.shortest_hops = _shortest_hops(self.network, self.demands)

    @property
    def n_demands(self) -> int:
        return len(self.demands)

    def demand_vector(self, tms: np.ndarray) -> np.ndarray:
        """Volumes per demand: ``(T, N, N) -> (T, D)`` (or ``(N, N) -> (D,)``)."""
        tms = np.asarray(tms, dtype=float)
        return tms[..., self._src, self._dst]

    def check_covers(self, tms: np.ndarray, source: str = "traffic") -> None:
        """Raise ValueError if ``tms`` ``(T, N, N)`` or ``(N, N)`` carries traffic on an ordered pair
        (off the diagonal) that is not one of the demands: :meth:`demand_vector` would drop it
        silently, from every routing and from the LP optimum alike."""
        tms = np.asarray(tms, dtype=float)
        n = self.network.n_nodes
        if tms.shape[-2:] != (n, n):
            raise ValueError(f"{source}: matrices are {tms.shape[-2:]}, the network has {n} nodes")
        covered = np.eye(n, dtype=bool)
        covered[self._src, self._dst] = True
        lost = (tms.reshape(-1, n, n) != 0).any(axis=0) & ~covered
        if lost.any():
            pairs = [f"{s}->{t}" for s, t in np.argwhere(lost)[:5]]
            raise ValueError(f"{source}: traffic on {int(lost.sum())} node pair(s) without candidate paths "
                             f"(e.g. {', '.join(pairs)}); it would be left out of every routing")

    def uniform_split(self) -> np.ndarray:
        """Equal split over each demand's real paths, ``(D, k)``."""
        return self.mask / self.mask.sum(axis=1, keepdims=True)


def _shortest_hops(network: Network, demands: Sequence[tuple[int, int]]) -> np.ndarray:
    g = network.graph()
    by_source: dict[int, dict[int, int]] = {}
    out = np.zeros(len(demands))
    for d, (s, t) in enumerate(demands):
        if s not in by_source:
            by_source[s] = nx.single_source_shortest_path_length(g, s)
        out[d] = by_source[s].get(t, np.nan)
    return out


def all_pairs(network: Network) -> list[tuple[int, int]]:
    """Every ordered pair of distinct nodes, in row-major (src, dst) order."""
    return [(s, t) for s in network.nodes for t in network.nodes if s != t]


def k_shortest_paths(network: Network, k: int, weight: str = "weight", disjoint: bool = False,
                     demands: Sequence[tuple[int, int]] | None = None) -> PathSet:
    """The k shortest loop-free paths per demand by OSPF ``weight`` or by ``"hops"``.

    ``disjoint=True`` makes them edge-disjoint greedily: take the shortest path, remove its
    links, repeat (may find fewer than k, and is not guaranteed to find a max disjoint set).
    ``demands`` defaults to all ordered pairs.
    """
    demands = list(demands) if demands is not None else all_pairs(network)
    return PathSet(network, demands, candidate_paths(network, k, weight, disjoint, demands), k)


def candidate_paths(network: Network, k: int, weight: str = "weight", disjoint: bool = False,
                    demands: Sequence[tuple[int, int]] = ()) -> list[list[tuple[int, ...]]]:
    """The paths :func:`k_shortest_paths` chooses, per demand (1 to k each), without building a
    :class:`PathSet` (for callers that assemble one from paths found at different times)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    if weight not in ("weight", "hops"):
        raise ValueError(f"weight must be 'weight' or 'hops', not {weight!r}")
    g = network.graph()
    attr = "weight" if weight == "weight" else None
    paths = []
    for s, t in demands:
        try:
            if disjoint:
                found, h = [], g.copy()
                while len(found) < k:
                    try:
                        p = nx.shortest_path(h, s, t, weight=attr)
                    except nx.NetworkXNoPath:
                        break
                    found.append(tuple(p))
                    h.remove_edges_from(zip(p[:-1], p[1:]))
            else:
                found = [tuple(p) for p in islice(nx.shortest_simple_paths(g, s, t, weight=attr), k)]
        except nx.NetworkXNoPath:
            found = []
        if not found:
            raise ValueError(f"{network.name}: no path from {s} to {t}")
        paths.append(found)
    return paths


def from_tunnels(network: Network, tunnels: dict[tuple[int, int], list[tuple[int, ...]]],
                 k: int | None = None) -> PathSet:
    """A PathSet from given tunnels (e.g. GEANT's ``tunnels.txt``), demands in sorted pair order."""
    demands = sorted(tunnels)
    k = k or max(len(p) for p in tunnels.values())
    return PathSet(network, demands, [list(tunnels[d]) for d in demands], k)

