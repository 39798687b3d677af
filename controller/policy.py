"""Routing policies the controller runs: given the live graph and the switch pairs, each pair's
paths with the weights its traffic is split by.

A policy sees a snapshot graph (see `NetworkState.graph`) whose edges carry `utilisation`,
`capacity` and `load`, the switch pairs (ingress, egress) that have hosts on both ends, the
splits currently installed and the measured demand of each pair. It returns a Split per pair it
can route; the controller turns them into tunnels and weighted select groups. Policies are pure
and run off the event loop. :func:`make_policy` builds the one the settings ask for.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import networkx as nx

from controller.settings import TOPOLOGY_SPECIFIC_POLICIES, Settings, default_checkpoint, wanted_split
from controller.splits import Pair, Split, SwitchPath
from qnn.errors import CheckpointError

# the graph edge attribute each [qroute] routing_weight means
WEIGHT_ATTRIBUTE = {"hops": None, "utilisation": "congestion", "ospf": "ospf"}
# Equal-cost shortest paths a split shortest-path policy spreads a pair over: no more tunnels per
# pair than the candidate-path policies' k = 3, so every policy fits the same label budget.
ECMP_MAX_PATHS = 3
# relative slack under which two path costs count as equal (sums of float weights)
COST_TOLERANCE = 1e-9


class Policy(Protocol):
    name: str
    """short name, as in the ``policy`` setting"""
    description: str
    """what it is, for people (the REST view, the log)"""

    def decide(self, graph: nx.DiGraph, pairs: Sequence[Pair],
               current: Mapping[Pair, Split] | None = None,
               demand_bps: Mapping[Pair, float] | None = None) -> dict[Pair, Split]:
        """A Split for every pair with a path in ``graph`` (paths intact, from the pair's
        ingress to its egress, most preferred first, weights > 0 summing to 1), from the
        installed splits and the measured demand."""


def path_is_intact(graph: nx.DiGraph, path: Sequence[int]) -> bool:
    return all(graph.has_edge(a, b) for a, b in zip(path, path[1:])) and all(
        n in graph for n in path)


def path_cost(graph: nx.DiGraph, path: Sequence[int], weight: str | None) -> float:
    if weight is None:
        return float(len(path) - 1)
    return float(sum(graph[a][b].get(weight, 1.0) for a, b in zip(path, path[1:])))


def split_of(weighted: Iterable[tuple[SwitchPath, float]], min_share: float = 0.0) -> Split:
    """The Split of paths with non-negative weights: weights under ``min_share`` of the total
    dropped (the largest always stays), the rest renormalised to sum to 1, heaviest first (ties
    in the order given)."""
    weighted = [(tuple(path), float(weight)) for path, weight in weighted]
    total = sum(weight for _, weight in weighted)
    if not weighted or total <= 0:
        raise ValueError("a split needs a path with a positive weight")
    heaviest = max(weight for _, weight in weighted)
    kept = [(path, weight) for path, weight in weighted
            if weight > 0 and (weight >= min_share * total or weight == heaviest)]
    kept_total = sum(weight for _, weight in kept)
    ordered = sorted(kept, key=lambda item: -item[1])  # sorted() is stable: ties keep their order
    return tuple((path, weight / kept_total) for path, weight in ordered)


def split_paths(split: Split | None) -> list[SwitchPath]:
    return [tuple(path) for path, _ in split or ()]


def runs_between(split: Split | None, pair: Pair) -> bool:
    """Whether every path of an installed split goes from the pair's ingress to its egress."""
    return bool(split) and all(len(path) >= 2 and (path[0], path[-1]) == tuple(pair)
                               for path in split_paths(split))


def _routable(graph: nx.DiGraph, pairs: Iterable[Pair]) -> list[Pair]:
    return [tuple(pair) for pair in pairs
            if pair[0] != pair[1] and pair[0] in graph and pair[1] in graph]


class ShortestPathPolicy:
    """Shortest path per pair (hop count or an edge attribute), keeping installed paths that are
    still shortest so that a change elsewhere does not move unaffected pairs. With ``split``:
    equal weights over the pair's equal-cost shortest paths (ECMP, at most ECMP_MAX_PATHS)."""

    name = "shortest-path"

    def __init__(self, weight: str | None = None, split: bool = False,
                 max_paths: int = ECMP_MAX_PATHS):
        self.weight = weight
        self.split = bool(split)
        self.max_paths = max_paths if self.split else 1
        # the weight it goes by is the routing_weight setting, shown beside it
        self.description = (f"{self.name}, split equally over up to {self.max_paths} equal-cost paths"
                            if self.split else self.name)

    def _cost(self, graph: nx.DiGraph, a: int, b: int) -> float:
        return 1.0 if self.weight is None else float(graph[a][b].get(self.weight, 1.0))

    def decide(self, graph: nx.DiGraph, pairs: Sequence[Pair],
               current: Mapping[Pair, Split] | None = None,
               demand_bps: Mapping[Pair, float] | None = None) -> dict[Pair, Split]:
        """``demand_bps`` is part of the policy interface; shortest paths do not need it."""
        current = current or {}
        from_source: dict[int, dict[int, float]] = {}
        to_target: dict[int, dict[int, float]] = {}
        reverse = None
        decided: dict[Pair, Split] = {}
        for pair in _routable(graph, pairs):
            src, dst = pair
            if src not in from_source:
                from_source[src] = nx.single_source_dijkstra_path_length(
                    graph, src, weight=lambda a, b, _: self._cost(graph, a, b))
            if dst not in from_source[src]:
                continue
            if dst not in to_target:
                reverse = reverse if reverse is not None else graph.reverse(copy=False)
                to_target[dst] = nx.single_source_dijkstra_path_length(
                    reverse, dst, weight=lambda b, a, _: self._cost(graph, a, b))
            best = from_source[src][dst]
            slack = COST_TOLERANCE * max(1.0, best)
            # one more than wanted, to tell whether the installed paths are as many as can be
            shortest = self._equal_cost_paths(graph, src, dst, from_source[src], to_target[dst],
                                              best + slack, self.max_paths + 1)
            wanted = min(self.max_paths, len(shortest))
            installed = [path for path in split_paths(current.get(pair)) if path_is_intact(graph, path)
                         and path_cost(graph, path, self.weight) <= best + slack] \
                if runs_between(current.get(pair), pair) else []
            if self.split:
                if len(installed) == wanted == len(split_paths(current.get(pair))) and \
                        len(set(installed)) == wanted:
                    chosen = installed
                else:
                    chosen = shortest[:wanted]
                decided[pair] = split_of((path, 1.0) for path in chosen)
            else:
                decided[pair] = ((installed[0] if installed else shortest[0], 1.0),)
        return decided

    def _equal_cost_paths(self, graph, src, dst, dist_from, dist_to, limit, count) -> list[SwitchPath]:
        """Up to ``count`` loop-free paths of cost at most ``limit``: a depth-first walk over the
        links that lie on some such path (distance from src + link + distance to dst)."""
        found: list[SwitchPath] = []
        stack = [(src, (src,), 0.0)]
        while stack and len(found) < count:
            node, path, cost = stack.pop()
            if node == dst:
                found.append(path)
                continue
            nexts = []
            for succ in graph.successors(node):
                if succ in path or succ not in dist_to:
                    continue
                through = cost + self._cost(graph, node, succ)
                if through + dist_to[succ] <= limit:
                    nexts.append((succ, path + (succ,), through))
            stack.extend(sorted(nexts, reverse=True))  # the lowest dpid is walked first
        return found


def keep_intact_else(policy, graph: nx.DiGraph, pairs: Sequence[Pair],
                     current: Mapping[Pair, Split]) -> dict[Pair, Split]:
    """Every pair keeps the intact paths of its installed split (the weights of broken ones
    spread over the rest in proportion, as the switches already do once their buckets are
    dropped); the others (new pairs, pairs whose every path broke) get ``policy``'s decision.
    What a controller falls back to when its own policy fails: nothing that still works is
    moved."""
    decided: dict[Pair, Split] = {}
    rest: list[Pair] = []
    for pair in pairs:
        pair = tuple(pair)
        installed = current.get(pair)
        intact = [(path, weight) for path, weight in installed or ()
                  if path_is_intact(graph, path)] if runs_between(installed, pair) else []
        if intact:
            decided[pair] = split_of(intact)
        else:
            rest.append(pair)
    decided.update(policy.decide(graph, rest, {}))
    return decided


def make_policy(settings: Settings, log: logging.Logger) -> tuple[Policy, ShortestPathPolicy, str]:
    """The configured policy, the single-path shortest-path policy to fall back on, and why the
    configured one is not in use ("" when it is). A learned policy whose checkpoint cannot be used
    is reported loudly (on `log`) and replaced by the fallback: the network keeps forwarding."""
    fallback = ShortestPathPolicy(weight=WEIGHT_ATTRIBUTE[settings.routing_weight])
    split = wanted_split(settings)
    if settings.policy == "shortest-path":
        if not split:
            return fallback, fallback, ""
        policy = ShortestPathPolicy(weight=fallback.weight, split=True)
        log.info("policy %s", policy.description)
        return policy, fallback, ""
    if settings.policy in ("milp", "lp"):
        from controller.demand_policies import LpPolicy, OptimalPolicy, configured_tunnels

        if settings.policy == "milp":
            # a decision must not outlast half the interval between re-optimisations
            policy = OptimalPolicy(time_limit=min(OptimalPolicy.DEFAULT_TIME_LIMIT_S,
                                                  0.5 * settings.reoptimize_interval),
                                   tunnels=configured_tunnels(settings), min_gain=settings.min_gain)
        else:
            policy = LpPolicy(split=bool(split), tunnels=configured_tunnels(settings),
                              min_gain=settings.min_gain)
        log.info("policy %s", policy.description)
        return policy, fallback, ""
    checkpoint = default_checkpoint(settings)
    try:
        from controller.demand_policies import LearnedPolicy, TopologySpecificPolicy, configured_tunnels

        if settings.policy in TOPOLOGY_SPECIFIC_POLICIES:
            policy = TopologySpecificPolicy(checkpoint, settings.topology, kind=settings.policy,
                                            keep_margin=settings.keep_margin, split=split,
                                            tunnels_file=settings.tunnels, min_gain=settings.min_gain,
                                            history_period=settings.history_period)
        else:
            policy = LearnedPolicy(checkpoint, keep_margin=settings.keep_margin, split=split,
                                   tunnels=configured_tunnels(settings), min_gain=settings.min_gain)
    except Exception as error:  # noqa: BLE001 - whatever a checkpoint holds, keep forwarding
        expected = isinstance(error, (CheckpointError, OSError, ValueError, ImportError))
        problem = f"policy {settings.policy} unavailable: " + (str(error) if expected else repr(error))
        # an unexpected kind of failure also gets its traceback in the log
        (log.error if expected else log.exception)("%s; routing by shortest path instead", problem)
        return fallback, fallback, problem
    if policy.kind != settings.policy:
        problem = f"checkpoint {checkpoint} holds a {policy.kind} model, policy is {settings.policy}"
        log.error("%s; routing by shortest path instead", problem)
        return fallback, fallback, problem
    if policy.split and policy.trained_single_path:
        log.warning("checkpoint %s was trained for one path per pair; split = true spreads its "
                    "shares anyway", checkpoint)
    log.info("policy %s", policy.description)
    return policy, fallback, ""
