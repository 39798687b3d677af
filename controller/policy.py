"""Routing policies the controller runs: given the live graph and the flows, one path per flow.

A policy sees a snapshot graph (see `NetworkState.graph`) whose edges carry `utilisation`,
`capacity` and `load`, and the paths currently installed. It returns switch paths; the
controller turns them into rules. Policies are pure and run off the event loop.
:func:`make_policy` builds the one the settings ask for.
"""
from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Protocol

import networkx as nx

from controller.settings import Settings, default_checkpoint
from qnn.errors import CheckpointError

Flow = Hashable
SwitchPath = tuple[int, ...]
# the graph edge attribute each [qroute] routing_weight means
WEIGHT_ATTRIBUTE = {"hops": None, "utilisation": "congestion", "ospf": "ospf"}


class Policy(Protocol):
    name: str
    """short name, as in the ``policy`` setting"""
    description: str
    """what it is, for people (the REST view, the log)"""

    def decide(self, graph: nx.DiGraph, flows: Mapping[Flow, tuple[int, int]],
               current: Mapping[Flow, SwitchPath] | None = None,
               demands_bps: Mapping[Flow, float] | None = None) -> dict[Flow, SwitchPath]:
        """One switch path per flow it can route, from (ingress, egress) switches, the installed
        paths and the measured rates."""


def path_is_intact(graph: nx.DiGraph, path: Sequence[int]) -> bool:
    return all(graph.has_edge(a, b) for a, b in zip(path, path[1:])) and all(
        n in graph for n in path)


def path_cost(graph: nx.DiGraph, path: Sequence[int], weight: str | None) -> float:
    if weight is None:
        return float(len(path) - 1)
    return float(sum(graph[a][b].get(weight, 1.0) for a, b in zip(path, path[1:])))


class ShortestPathPolicy:
    """Shortest path per flow (hop count or an edge attribute), keeping installed paths that
    are still shortest so that a change elsewhere does not move unaffected flows."""

    name = "shortest-path"
    description = name  # the weight it goes by is the routing_weight setting, shown beside it

    def __init__(self, weight: str | None = None):
        self.weight = weight

    def decide(self, graph: nx.DiGraph, flows: Mapping[Flow, tuple[int, int]],
               current: Mapping[Flow, SwitchPath] | None = None,
               demands_bps: Mapping[Flow, float] | None = None) -> dict[Flow, SwitchPath]:
        """``demands_bps`` (measured per-flow rates) is part of the policy interface; shortest
        paths do not need it."""
        current = current or {}
        decided: dict[Flow, SwitchPath] = {}
        cost_cache: dict[tuple[int, int], tuple[float, SwitchPath] | None] = {}
        for flow, (src, dst) in flows.items():
            if (src, dst) not in cost_cache:
                cost_cache[(src, dst)] = self._shortest(graph, src, dst)
            best = cost_cache[(src, dst)]
            if best is None:
                continue
            best_cost, best_path = best
            installed = current.get(flow)
            if (installed and installed[0] == src and installed[-1] == dst
                    and path_is_intact(graph, installed)
                    and path_cost(graph, installed, self.weight) <= best_cost + 1e-9):
                decided[flow] = tuple(installed)
            else:
                decided[flow] = best_path
        return decided

    def _shortest(self, graph, src, dst):
        if src not in graph or dst not in graph:
            return None
        try:
            path = nx.shortest_path(graph, src, dst, weight=self.weight)
        except nx.NetworkXNoPath:
            return None
        return path_cost(graph, path, self.weight), tuple(path)


def keep_intact_else(policy, graph: nx.DiGraph, flows: Mapping[Flow, tuple[int, int]],
                     current: Mapping[Flow, SwitchPath]) -> dict[Flow, SwitchPath]:
    """Every flow keeps its installed path while that path is intact; the others (new flows,
    flows on a broken path) get ``policy``'s decision. What a controller falls back to when its
    own policy fails: nothing that still works is moved."""
    decided: dict[Flow, SwitchPath] = {}
    rest: dict[Flow, tuple[int, int]] = {}
    for flow, ends in flows.items():
        installed = current.get(flow)
        if installed and (installed[0], installed[-1]) == tuple(ends) and path_is_intact(graph, installed):
            decided[flow] = tuple(installed)
        else:
            rest[flow] = ends
    decided.update(policy.decide(graph, rest, {}))
    return decided


def make_policy(settings: Settings, log: logging.Logger) -> tuple[Policy, ShortestPathPolicy, str]:
    """The configured policy, the shortest-path policy to fall back on, and why the configured
    one is not in use ("" when it is). A learned policy whose checkpoint cannot be used is
    reported loudly (on `log`) and replaced by the fallback: the network keeps forwarding."""
    fallback = ShortestPathPolicy(weight=WEIGHT_ATTRIBUTE[settings.routing_weight])
    if settings.policy == "shortest-path":
        return fallback, fallback, ""
    if settings.policy == "milp":
        from controller.demand_policies import OptimalPolicy, configured_tunnels

        # a decision must not outlast half the interval between re-optimisations
        policy = OptimalPolicy(time_limit=min(OptimalPolicy.DEFAULT_TIME_LIMIT_S,
                                              0.5 * settings.reoptimize_interval),
                               tunnels=configured_tunnels(settings))
        log.info("policy %s", policy.description)
        return policy, fallback, ""
    checkpoint = default_checkpoint(settings)
    try:
        from controller.demand_policies import LearnedPolicy, configured_tunnels

        policy = LearnedPolicy(checkpoint, keep_margin=settings.keep_margin,
                               tunnels=configured_tunnels(settings))
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
    log.info("policy %s", policy.description)
    return policy, fallback, ""
