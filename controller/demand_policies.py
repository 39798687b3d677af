"""The controller's demand-aware routing policies: each switch pair's split from measured demand.

:class:`CandidatePathPolicy` turns what the controller knows (:mod:`controller.policy`: the live
graph without its failed links, the switch pairs, the installed splits, the measured demand of
each pair) into a routing problem over each pair's candidate paths, and back into a Split per
pair: the paths' shares as weights (those under MIN_SHARE dropped), or, on one path, the highest
share's path. A pair's candidates are its given tunnels that are intact in the live graph (the
first k), when tunnels are configured and cover it; otherwise its k shortest loop-free paths by
OSPF weight, the rule the shipped checkpoints were trained with.
:class:`LearnedPolicy` scores the candidates with a trained router (the QNN or its MLP control);
:class:`LpPolicy` solves the path LP (the split optimum) and :class:`OptimalPolicy` the
single-path MILP, the classical yardsticks.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np

from qnn.network import Network
from qnn.paths import PathSet, candidate_paths
from controller.policy import Pair, Split, SwitchPath, runs_between, split_of, split_paths

FLOOR_SHARE = 1e-3  # unmeasured pairs' demand, relative to the largest measured one
# A path's least weight in a split: smaller shares carry too little to be worth a tunnel and a
# bucket (and a select group cannot realise them: bucket weights are whole thousandths).
MIN_SHARE = 0.01


class CandidatePathPolicy:
    """Shared plumbing: live graph + demand -> candidate paths and a demand vector -> a Split per
    pair (:meth:`shares` scores the candidates; splitting, the shares are the weights, else the
    highest share wins)."""

    name = "candidate-paths"

    def __init__(self, k: int = 3, keep_margin: float = 0.0, split: bool = False,
                 tunnels: Mapping[tuple[int, int], list[tuple[int, ...]]] | None = None,
                 min_share: float = MIN_SHARE, min_gain: float = 0.0):
        """``tunnels``: given switch paths per (src, dst) switch pair, in order of preference.
        ``keep_margin``: on one path, an installed path stays while its share is within this of
        the best one's; splitting, an installed split stays while no weight would move by more
        than this (each weight change is a group modification that rehashes transport flows onto
        other buckets, so small moves are not worth making). ``min_gain``: the decision as a
        whole replaces the installed splits only if its predicted MLU on the measured demand is
        lower than theirs by more than this fraction (re-solving on noisy demand otherwise moves
        pairs between equally good routings at every decision)."""
        self.k = k
        self.keep_margin = float(keep_margin)
        self.min_gain = float(min_gain)
        self.split = bool(split)
        self.min_share = float(min_share)
        self.tunnels = {pair: [tuple(path) for path in paths] for pair, paths in (tunnels or {}).items()}
        self._paths_key = None
        self._paths = None
        self._graph_key = None
        self._live = None  # (Network, dpids, dpid -> node index) of the live graph
        self._pair_paths: dict[tuple[int, int], list[tuple[int, ...]]] = {}  # on that graph

    def _tunnels_note(self) -> str:
        return f", given tunnels for {len(self.tunnels)} switch pairs" if self.tunnels else ""

    def _split_note(self) -> str:
        return (f", split by its shares (under {self.min_share:.0%} dropped)" if self.split
                else ", single path")

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

    def decide(self, graph: nx.DiGraph, pairs: Sequence[Pair],
               current: Mapping[Pair, Split] | None = None,
               demand_bps: Mapping[Pair, float] | None = None) -> dict[Pair, Split]:
        current = current or {}
        demand_bps = demand_bps or {}
        reachable: dict[int, set] = {}
        routed: list[Pair] = []
        for pair in pairs:
            src, dst = pair
            if src == dst or src not in graph or dst not in graph:
                continue
            if src not in reachable:
                reachable[src] = nx.descendants(graph, src)
            if dst in reachable[src]:  # candidate_paths refuses a pair without any path
                routed.append((src, dst))
        if not routed:
            return {}
        routed = sorted(set(routed))
        pathset, switch_paths, prepared = self._candidates(graph, routed)
        measured = {pair: float(demand_bps.get(pair, 0.0)) for pair in routed}
        floor = FLOOR_SHARE * max(measured.values(), default=0.0) or 1.0
        demand = np.array([max(measured[pair], floor) for pair in routed])
        shares = np.asarray(self.shares(pathset, prepared, demand), dtype=float)
        decided: dict[Pair, Split] = {}
        for row, pair in enumerate(routed):
            candidates = switch_paths[row]
            installed = current.get(pair) if runs_between(current.get(pair), pair) else None
            choose = self._choose_split if self.split else self._choose_path
            decided[pair] = choose(candidates, shares[row, :len(candidates)], installed)
        if self.min_gain > 0:
            decided = self._unless_better(routed, switch_paths, pathset, demand, decided, current)
        return decided

    def _unless_better(self, routed: list[Pair], switch_paths, pathset: PathSet, demand: np.ndarray,
                       decided: dict[Pair, Split], current: Mapping[Pair, Split]) -> dict[Pair, Split]:
        """``decided``, or the installed splits (pairs without a usable one take the decision)
        when the decision does not lower the predicted MLU by more than ``min_gain``."""
        kept = {}
        for pair, candidates in zip(routed, switch_paths):
            installed = current.get(pair)
            usable = runs_between(installed, pair) and all(path in candidates
                                                           for path in split_paths(installed))
            kept[pair] = (tuple((tuple(path), float(w)) for path, w in installed) if usable
                          else decided[pair])
        if kept == decided:
            return decided
        now, new = (predicted_mlu(pathset, switch_paths, routed, demand, splits)
                    for splits in (kept, decided))
        return kept if now <= new * (1 + self.min_gain) else decided

    def _choose_path(self, candidates: list[SwitchPath], shares: np.ndarray,
                     installed: Split | None) -> Split:
        """The highest share's path, unless the installed (most preferred) path is a candidate
        whose share is within keep_margin of it."""
        best = int(np.argmax(shares))
        kept = split_paths(installed)[:1]
        if kept and kept[0] in candidates and \
                shares[candidates.index(kept[0])] >= shares[best] - self.keep_margin:
            return ((kept[0], 1.0),)
        return ((candidates[best], 1.0),)

    def _choose_split(self, candidates: list[SwitchPath], shares: np.ndarray,
                      installed: Split | None) -> Split:
        """The shares as weights (under min_share dropped, renormalised), unless the installed
        split is over candidates and no weight would move by more than keep_margin."""
        if not np.all(np.isfinite(shares)) or shares.min() < 0 or shares.sum() <= 0:
            raise ValueError(f"shares {shares.tolist()} are not a split")
        new = split_of(zip(candidates, shares), self.min_share)
        if installed and all(path in candidates for path in split_paths(installed)):
            old_weights = {tuple(path): weight for path, weight in installed}
            new_weights = dict(new)
            if all(abs(new_weights.get(path, 0.0) - old_weights.get(path, 0.0)) <= self.keep_margin
                   for path in candidates):
                return tuple((tuple(path), float(weight)) for path, weight in installed)
        return new


def predicted_mlu(pathset: PathSet, switch_paths, routed: list[Pair], demand: np.ndarray,
                  splits: Mapping[Pair, Split]) -> float:
    """The MLU of ``splits`` (over each pair's candidates) carrying ``demand`` on ``pathset``."""
    from qnn.loads import link_loads, mlu

    matrix = np.zeros((len(routed), pathset.k))
    for row, (pair, candidates) in enumerate(zip(routed, switch_paths)):
        for path, weight in splits[pair]:
            matrix[row, candidates.index(tuple(path))] = weight
    return float(mlu(link_loads(pathset, demand, matrix)[0], pathset.network.capacity))


class LearnedPolicy(CandidatePathPolicy):
    """A trained router (QNN or MLP checkpoint) scores every pair's candidates at once.
    ``split``: True spreads each pair by the router's shares, False takes the highest share, None
    does what the checkpoint was trained for (split ratios unless trained for one path per pair,
    as its sidecar's ``single_path`` records)."""

    def __init__(self, checkpoint, keep_margin: float = 0.1, device: str = "cpu", tunnels=None,
                 split: bool | None = None, min_gain: float = 0.0):
        from qnn.models.checkpoint import CheckpointError
        from qnn.models.loaded import LoadedRouter

        loaded = LoadedRouter(checkpoint, device=device)
        if loaded.setting == "predictive" and loaded.history > 1:
            raise CheckpointError(checkpoint, f"trained to decide on the last {loaded.history} traffic "
                                  "matrices; the controller decides on one period's measured rates (train "
                                  "with --history 1)")
        if loaded.feature_history > 1:
            raise CheckpointError(checkpoint, f"its history features read each pair's last "
                                  f"{loaded.feature_history} traffic matrices; the controller keeps no such "
                                  "history for the per-pair routers yet (train without --feature-history)")
        self.trained_single_path = bool(loaded.meta.get("single_path", False))
        super().__init__(k=loaded.k, keep_margin=keep_margin, tunnels=tunnels, min_gain=min_gain,
                         split=not self.trained_single_path if split is None else split)
        self.loaded, self.meta = loaded, loaded.meta
        self.kind = self.name = loaded.kind
        trained_on = self.meta.get("topology", {}).get("name", "?")
        trained_for = "one path per pair" if self.trained_single_path else "split ratios"
        self.description = (f"{self.kind} router, k={self.k}, {self.meta.get('n_params', '?')} parameters, "
                            f"trained on {trained_on} for {trained_for}{self._split_note()}"
                            f"{self._tunnels_note()}")

    def prepare(self, pathset):
        return self.loaded.path_tensors(pathset)

    def shares(self, pathset, prepared, demand):
        return self.loaded.decide(prepared, demand)


class LpPolicy(CandidatePathPolicy):
    """The path-LP optimum (HiGHS) on the measured demand: the split that minimises the maximum
    link utilisation over the candidates, re-solved to the optimum at every decision (no time
    limit: an LP, unlike the MILP, has no long tail to cut). Not splitting, each pair takes the
    path that carries most of its optimum."""

    kind = "lp"

    def __init__(self, k: int = 3, split: bool = True, keep_margin: float = 0.0, tunnels=None,
                 min_share: float = MIN_SHARE, min_gain: float = 0.0):
        super().__init__(k=k, keep_margin=keep_margin, split=split, tunnels=tunnels, min_share=min_share,
                         min_gain=min_gain)
        self.name = "lp"
        self.description = (f"path-LP optimum on measured demand, k={k}, no time limit"
                            + (f", split by the optimum (parts under {self.min_share:.0%} dropped)" if split
                               else ", single path (each pair's largest part of the optimum)")
                            + self._tunnels_note())

    def shares(self, pathset, prepared, demand):
        from qnn.lp import path_lp

        return path_lp(pathset, demand).split


class OptimalPolicy(CandidatePathPolicy):
    """The single-path MILP optimum (HiGHS) on the measured demand, stopped after
    ``time_limit`` seconds with the best routing found: one path per pair, always."""

    kind = "milp"
    DEFAULT_TIME_LIMIT_S = 2.0

    def __init__(self, k: int = 3, time_limit: float = DEFAULT_TIME_LIMIT_S, keep_margin: float = 0.0,
                 tunnels=None, min_gain: float = 0.0):
        super().__init__(k=k, keep_margin=keep_margin, split=False, tunnels=tunnels, min_gain=min_gain)
        self.time_limit = time_limit
        self.name = "milp"
        self.description = (f"single-path MILP optimum on measured demand, k={k}, {time_limit:g} s limit"
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


class TopologySpecificPolicy(CandidatePathPolicy):
    """DOTE / FIGRET (:mod:`qnn.models.dote`): one network-wide model from the last H measured
    demand vectors of all the network's pairs to split ratios over each pair's candidate paths.

    Its input and output slots are the pairs and paths of the network it was trained on, so the
    candidates are exactly those paths (the configured tunnels, when given, must be them: the
    checkpoint's recorded pairs digest is checked), switch dpid i + 1 being node i of
    ``topology``. The history holds the last H demand vectors of every pair (0 where none is
    measured); until H are seen the oldest stands in for the missing ones, as in the bench.
    With ``history_period`` 0 each decision adds the demand it is given; with a period P > 0
    (the matrices it learnt from: 300 s for Abilene's, 900 s for GEANT's) an entry is the mean
    of the demands given in one P-second period, the periods counted from the first decision,
    and a decision sees the completed ones (the first period's own mean until one is complete),
    as the model was trained: the last H matrices, then the next one routed.

    A path broken in the live graph is dropped and the pair split over the rest in proportion;
    a pair with none left, or of switches outside the topology, is left out (it
    takes the fallback's split)."""

    def __init__(self, checkpoint, topology: str, kind: str | None = None, keep_margin: float = 0.1,
                 split: bool | None = None, tunnels_file: str = "", min_gain: float = 0.0,
                 min_share: float = MIN_SHARE, device: str = "cpu", history_period: float = 0.0):
        from collections import deque

        from qnn.models.checkpoint import resolve
        from qnn.models.dote import LoadedDote, read_dote_sidecar
        from qnn.problems import candidate_pathset, load_network

        wanted = kind or "dote"
        if not topology:
            raise ValueError(f"policy {wanted} needs topology = the network its checkpoint was trained on "
                             f"(its inputs and outputs are that network's pairs)")
        if not checkpoint:
            raise ValueError(f"policy {wanted} on topology {topology!r} needs a checkpoint trained on it "
                             f"(shipped ones: {wanted}-abilene, {wanted}-geant)")
        k = read_dote_sidecar(resolve(checkpoint))["model"]["k"]
        network = load_network(topology)
        node_ids = None
        if tunnels_file:
            from topologies.catalog import open_network

            node_ids = open_network(topology)[1]
        pathset, self.path_rule = candidate_pathset(topology, network, k, "weight",
                                                    tunnels=tunnels_file or None, node_ids=node_ids)
        self.loaded = LoadedDote(checkpoint, network, pathset, kind=kind, device=device)
        super().__init__(k=k, keep_margin=keep_margin, split=True if split is None else split,
                         min_share=min_share, min_gain=min_gain)
        self.meta, self.network, self.pathset = self.loaded.meta, network, pathset
        self.kind = self.name = self.meta["model"]["kind"]
        self.trained_single_path = False
        self.history = self.loaded.history
        self.recent = deque(maxlen=self.history)  # measured demand vectors, oldest first
        if history_period < 0:
            raise ValueError(f"history_period must be 0 or more seconds, not {history_period:g}")
        self.history_period = float(history_period)
        self.period_start: float | None = None
        self.period_vectors: list[np.ndarray] = []  # the demands given in the current period
        self.switch_pairs = [(int(s) + 1, int(t) + 1) for s, t in pathset.demands]
        self.row = {pair: row for row, pair in enumerate(self.switch_pairs)}
        self.switch_paths = [[tuple(int(node) + 1 for node in path) for path in paths if path]
                             for paths in pathset.paths]
        self.description = (f"{self.kind} model, {self.loaded.n_params} parameters, trained on "
                            f"{self.meta['topology'].get('name', '?')} only, last {self.history} "
                            f"measured demands{self._period_note()} -> split ratios over its "
                            f"{self.path_rule}{self._split_note()}")

    def _period_note(self) -> str:
        return f" (means of {self.history_period:g} s periods)" if self.history_period > 0 else ""

    def window(self, vector: np.ndarray, now: float | None) -> np.ndarray:
        """The history a decision at ``now`` sees, with ``vector`` (its demand) taken in."""
        if self.history_period <= 0 or now is None:
            self.recent.append(vector)
            return np.array(self.recent)
        if self.period_start is None:
            self.period_start = now
        ended = int((now - self.period_start) // self.history_period)
        if ended >= 1:
            if self.period_vectors:
                self.recent.append(np.mean(self.period_vectors, axis=0))
            self.period_start += ended * self.history_period
            self.period_vectors = []
        self.period_vectors.append(vector)
        return np.array(self.recent) if self.recent else np.mean(self.period_vectors, axis=0)[None, :]

    def demand_vector(self, demand_bps: Mapping[Pair, float]) -> np.ndarray:
        """Every trained pair's measured demand (bit/s; 0 where none is measured), in its order."""
        return np.array([max(float(demand_bps.get(pair, 0.0)), 0.0) for pair in self.switch_pairs])

    def decide(self, graph: nx.DiGraph, pairs: Sequence[Pair],
               current: Mapping[Pair, Split] | None = None,
               demand_bps: Mapping[Pair, float] | None = None, now: float | None = None
               ) -> dict[Pair, Split]:
        """``now`` (s, the controller's monotonic clock) places the demand in its history
        period; without it the demand is one more entry (as with ``history_period`` 0)."""
        current = current or {}
        ratios = self.loaded.decide(self.window(self.demand_vector(demand_bps or {}), now))
        decided: dict[Pair, Split] = {}
        routed, candidates_of = [], []
        for pair in sorted({tuple(pair) for pair in pairs}):
            row = self.row.get(pair)
            if row is None:
                continue
            slots = [j for j, path in enumerate(self.switch_paths[row])
                     if all(graph.has_edge(a, b) for a, b in zip(path, path[1:]))]
            if not slots:
                continue
            candidates = [self.switch_paths[row][j] for j in slots]
            installed = current.get(pair) if runs_between(current.get(pair), pair) else None
            choose = self._choose_split if self.split else self._choose_path
            decided[pair] = choose(candidates, ratios[row, slots], installed)
            routed.append(pair)
            candidates_of.append(candidates)
        if self.min_gain > 0 and routed:
            node_paths = [[tuple(node - 1 for node in path) for path in paths] for paths in candidates_of]
            pathset = PathSet(self.network, [(s - 1, t - 1) for s, t in routed], node_paths, self.k)
            demand = np.array([max(float((demand_bps or {}).get(pair, 0.0)), 0.0) for pair in routed])
            if demand.sum() > 0:
                decided = self._unless_better(routed, candidates_of, pathset, demand, decided, current)
        return decided
