"""The controller's demand-aware routing policies: each flow's path from measured flow rates.

:class:`CandidatePathPolicy` turns what the controller knows (:mod:`controller.policy`: the live
graph without its failed links, the flows as switch pairs, the installed paths, the measured rates)
into a routing problem over each pair's candidate paths, and back into one path per pair, because
OpenFlow per-flow rules carry one path. A pair's candidates are its given tunnels that are intact
in the live graph (the first k), when tunnels are configured and cover it; otherwise its k
shortest loop-free paths by OSPF weight, the rule the shipped checkpoints were trained with.
:class:`LearnedPolicy` scores the candidates with a trained router (the QNN or its MLP control);
:class:`OptimalPolicy` solves the single-path MILP, the classical yardstick.
"""
from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np

from qnn.network import Network
from qnn.paths import PathSet, candidate_paths
from controller.policy import Flow, SwitchPath

FLOOR_SHARE = 1e-3  # unmeasured flows' rate, relative to the largest measured one


class CandidatePathPolicy:
    """Shared plumbing: live graph + rates -> candidate paths and a demand vector -> one
    candidate per pair (:meth:`shares` scores them; the highest share wins)."""

    name = "candidate-paths"

    def __init__(self, k: int = 3, keep_margin: float = 0.0,
                 tunnels: Mapping[tuple[int, int], list[tuple[int, ...]]] | None = None):
        """``tunnels``: given switch paths per (src, dst) switch pair, in order of preference."""
        self.k = k
        self.keep_margin = float(keep_margin)
        self.tunnels = {pair: [tuple(path) for path in paths] for pair, paths in (tunnels or {}).items()}
        self._paths_key = None
        self._paths = None
        self._graph_key = None
        self._live = None  # (Network, dpids, dpid -> node index) of the live graph
        self._pair_paths: dict[tuple[int, int], list[tuple[int, ...]]] = {}  # on that graph

    def _tunnels_note(self) -> str:
        return f", given tunnels for {len(self.tunnels)} switch pairs" if self.tunnels else ""

    def shares(self, pathset, prepared, demand: np.ndarray) -> np.ndarray:
        """(D, k) preference of each pair for each of its candidates (0 for missing ones)."""
        raise NotImplementedError

    def prepare(self, pathset):
        """Per-topology data :meth:`shares` needs (cached with the candidate paths)."""
        return None

    def _candidates(self, graph: nx.DiGraph, pairs: list[tuple[int, int]]):
        """(PathSet, each pair's candidates as switch paths, prepared) for the live graph,
        cached while it is unchanged."""
        graph_key = (tuple(sorted(graph.nodes)),
                     tuple(sorted((a, b, float(e.get("capacity", 1.0)), float(e.get("ospf", 1.0)))
                                  for a, b, e in graph.edges(data=True))))
        if graph_key != self._graph_key:
            dpids = sorted(graph.nodes)
            index = {d: i for i, d in enumerate(dpids)}
            edges = sorted(graph.edges(data=True))
            network = Network(name="live", nodes=list(range(len(dpids))),
                              links=[(index[a], index[b]) for a, b, _ in edges],
                              capacity=[float(e.get("capacity", 1.0)) for _, _, e in edges],
                              weight=[float(e.get("ospf", 1.0)) for _, _, e in edges])
            self._graph_key, self._live, self._pair_paths = graph_key, (network, dpids, index), {}
        key = (graph_key, tuple(pairs))
        if key != self._paths_key:
            network, dpids, index = self._live
            missing = [pair for pair in pairs if pair not in self._pair_paths]
            for pair in missing:
                intact = [path for path in self.tunnels.get(pair, ())
                          if all(graph.has_edge(a, b) for a, b in zip(path, path[1:]))]
                if intact:
                    self._pair_paths[pair] = [tuple(index[d] for d in path) for path in intact[:self.k]]
            missing = [pair for pair in missing if pair not in self._pair_paths]
            if missing:
                found = candidate_paths(network, self.k, weight="weight",
                                        demands=[(index[s], index[t]) for s, t in missing])
                self._pair_paths.update(zip(missing, found))
            pathset = PathSet(network, [(index[s], index[t]) for s, t in pairs],
                              [self._pair_paths[pair] for pair in pairs], self.k)
            switch_paths = [[tuple(dpids[i] for i in path) for path in self._pair_paths[pair]]
                            for pair in pairs]
            self._paths = (pathset, switch_paths, self.prepare(pathset))
            self._paths_key = key
        return self._paths

    def decide(self, graph: nx.DiGraph, flows: Mapping[Flow, tuple[int, int]],
               current: Mapping[Flow, SwitchPath] | None = None,
               demands_bps: Mapping[Flow, float] | None = None) -> dict[Flow, SwitchPath]:
        current = current or {}
        demands_bps = demands_bps or {}
        decided: dict[Flow, SwitchPath] = {}
        by_pair: dict[tuple[int, int], list[Flow]] = {}
        reachable: dict[int, set] = {}
        for flow, (src, dst) in flows.items():
            if src not in graph or dst not in graph:
                continue
            if src == dst:
                decided[flow] = (src,)
                continue
            if src not in reachable:
                reachable[src] = nx.descendants(graph, src)
            if dst in reachable[src]:  # candidate_paths refuses a pair without any path
                by_pair.setdefault((src, dst), []).append(flow)
        if not by_pair:
            return decided
        pairs = sorted(by_pair)
        pathset, switch_paths, prepared = self._candidates(graph, pairs)
        measured = {f: float(demands_bps.get(f, 0.0)) for p in pairs for f in by_pair[p]}
        floor = FLOOR_SHARE * max(measured.values(), default=0.0) or 1.0
        demand = np.array([sum(max(measured[f], floor) for f in by_pair[p]) for p in pairs])
        split = self.shares(pathset, prepared, demand)
        for row, pair in enumerate(pairs):
            candidates = switch_paths[row]
            shares = split[row, :len(candidates)]
            best = int(np.argmax(shares))
            for flow in by_pair[pair]:
                installed = tuple(current.get(flow, ()))
                if installed in candidates and \
                        shares[candidates.index(installed)] >= shares[best] - self.keep_margin:
                    decided[flow] = installed
                else:
                    decided[flow] = candidates[best]
        return decided


class LearnedPolicy(CandidatePathPolicy):
    """A trained router (QNN or MLP checkpoint) scores every pair's candidates at once."""

    def __init__(self, checkpoint, keep_margin: float = 0.1, device: str = "cpu", tunnels=None):
        from qnn.models.checkpoint import CheckpointError
        from qnn.models.loaded import LoadedRouter

        loaded = LoadedRouter(checkpoint, device=device)
        if loaded.setting == "predictive" and loaded.history > 1:
            raise CheckpointError(checkpoint, f"trained to decide on the last {loaded.history} traffic "
                                  "matrices; the controller decides on one period's measured rates (train "
                                  "with --history 1)")
        super().__init__(k=loaded.k, keep_margin=keep_margin, tunnels=tunnels)
        self.loaded, self.meta = loaded, loaded.meta
        self.kind = self.name = loaded.kind
        trained_on = self.meta.get("topology", {}).get("name", "?")
        self.description = (f"{self.kind} router, k={self.k}, {self.meta.get('n_params', '?')} parameters, "
                            f"trained on {trained_on}{self._tunnels_note()}")

    def prepare(self, pathset):
        return self.loaded.path_tensors(pathset)

    def shares(self, pathset, prepared, demand):
        return self.loaded.decide(prepared, demand)


class OptimalPolicy(CandidatePathPolicy):
    """The single-path MILP optimum (HiGHS) on the measured rates, stopped after
    ``time_limit`` seconds with the best routing found: the classical yardstick."""

    kind = "milp"
    DEFAULT_TIME_LIMIT_S = 2.0

    def __init__(self, k: int = 3, time_limit: float = DEFAULT_TIME_LIMIT_S, keep_margin: float = 0.0,
                 tunnels=None):
        super().__init__(k=k, keep_margin=keep_margin, tunnels=tunnels)
        self.time_limit = time_limit
        self.name = "milp"
        self.description = (f"single-path MILP optimum on measured rates, k={k}, {time_limit:g} s limit"
                            f"{self._tunnels_note()}")

    def shares(self, pathset, prepared, demand):
        from qnn.lp import single_path_milp

        return single_path_milp(pathset, demand, time_limit=self.time_limit).split


def configured_tunnels(settings) -> dict[tuple[int, int], list[tuple[int, ...]]] | None:
    """The ``[qroute] tunnels`` file as switch paths per switch pair (None when none is set)."""
    if not settings.tunnels:
        return None
    from topologies.catalog import tunnel_paths

    return tunnel_paths(settings.topology, settings.tunnels)
