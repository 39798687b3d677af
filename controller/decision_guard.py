"""Checks between a policy's decision and the switches: a decision that is malformed, leaves
routable pairs out, or is predicted to load the network worse than the fallback is not installed
as it stands, and a churn budget bounds how many pairs one decision may move.

Pure: the live graph, the pairs, the installed splits, the fallback's splits and the measured
demand go in; the splits to install and the reasons come out. ``now`` is handed in.

A rejected decision is replaced as a whole by the fallback (intact installed splits kept, new
and broken pairs on shortest paths): a policy that returns a NaN or a broken path for one pair
is not trusted for the others. Routable pairs a policy left out are not a reason to distrust the
rest: they take the fallback's split and the decision goes on to the load check.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from controller.splits import Pair, Split

# the `reason` label of qroute_decisions_rejected_total
NON_FINITE = "non_finite_weight"    # a weight that is NaN or infinite
NEGATIVE = "negative_weight"
ZERO = "zero_weights"               # no path with a positive weight
BROKEN_PATH = "broken_path"         # a link of the path is not in the live graph, or it loops
WRONG_ENDS = "wrong_ends"           # the path does not run from the pair's ingress to its egress
MISSING_PAIR = "missing_pair"       # a routable pair the decision left out (it takes the fallback)
WORSE_MLU = "worse_mlu"             # predicted MLU above the fallback's by more than the tolerance
REJECTING = (NON_FINITE, NEGATIVE, ZERO, BROKEN_PATH, WRONG_ENDS, WORSE_MLU)
REASONS = (*REJECTING, MISSING_PAIR)


@dataclass(frozen=True)
class Verdict:
    """What the guard made of one decision: the splits to go on with; `rejected`: the whole
    decision was replaced by the fallback; `problems`: reason -> the pairs it was found for
    (one entry per reason); `predicted_mlu`/`fallback_mlu`: the two routings' MLU on the
    measured demand (None when not compared)."""

    splits: dict[Pair, Split]
    rejected: bool = False
    problems: dict[str, list[Pair]] = field(default_factory=dict)
    predicted_mlu: float | None = None
    fallback_mlu: float | None = None

    def summary(self) -> str:
        parts = [f"{reason} ({len(pairs)} pairs, e.g. {pairs[0][0]}-{pairs[0][1]})"
                 for reason, pairs in self.problems.items() if pairs]
        if self.predicted_mlu is not None and WORSE_MLU in self.problems:
            parts[-1] = (f"{WORSE_MLU} (predicted MLU {self.predicted_mlu:.3f} against the "
                         f"fallback's {self.fallback_mlu:.3f})")
        return "; ".join(parts)


def split_problem(graph: nx.DiGraph, pair: Pair, split) -> str | None:
    """Why ``split`` cannot be installed for ``pair`` on ``graph`` (a REASONS value), or None."""
    try:
        entries = [(tuple(path), float(weight)) for path, weight in split]
    except (TypeError, ValueError):
        return BROKEN_PATH
    if not entries:
        return ZERO
    for _, weight in entries:
        if not math.isfinite(weight):
            return NON_FINITE
        if weight < 0:
            return NEGATIVE
    if sum(weight for _, weight in entries) <= 0:
        return ZERO
    for path, _ in entries:
        if len(path) < 2 or (path[0], path[-1]) != tuple(pair):
            return WRONG_ENDS
        if len(set(path)) != len(path) or not all(graph.has_edge(a, b) for a, b in zip(path, path[1:])):
            return BROKEN_PATH
    return None


def predicted_mlu(graph: nx.DiGraph, splits: Mapping[Pair, Split],
                  demand_bps: Mapping[Pair, float]) -> float:
    """The largest link utilisation if every pair's measured demand followed its split (weights
    normalised); links without a capacity count as unloaded."""
    load: dict[tuple[int, int], float] = {}
    for pair, split in splits.items():
        demand = float(demand_bps.get(pair, 0.0))
        total = sum(weight for _, weight in split)
        if demand <= 0 or total <= 0:
            continue
        for path, weight in split:
            for link in zip(path, path[1:]):
                load[link] = load.get(link, 0.0) + demand * weight / total
    utilisation = [bps / graph.edges[link]["capacity"] for link, bps in load.items()
                   if graph.has_edge(*link) and graph.edges[link].get("capacity", 0) > 0]
    return max(utilisation, default=0.0)


def check_decision(decided: Mapping[Pair, Split], graph: nx.DiGraph, pairs: Sequence[Pair],
                   fallback: Mapping[Pair, Split], demand_bps: Mapping[Pair, float],
                   mlu_tolerance: float) -> Verdict:
    """The decision to install in place of ``decided``.

    ``fallback``: the fallback's splits for ``pairs`` (it routes every routable pair);
    ``mlu_tolerance``: how much higher (as a fraction) the decision's predicted MLU on
    ``demand_bps`` may be than the fallback's. Pairs not in ``pairs`` are dropped."""
    wanted = [tuple(pair) for pair in pairs]
    problems: dict[str, list[Pair]] = {}
    splits: dict[Pair, Split] = {}
    for pair in wanted:
        if pair not in decided:
            if pair in fallback:
                problems.setdefault(MISSING_PAIR, []).append(pair)
                splits[pair] = fallback[pair]
            continue
        problem = split_problem(graph, pair, decided[pair])
        if problem is not None:
            problems.setdefault(problem, []).append(pair)
        else:
            splits[pair] = tuple((tuple(path), float(weight)) for path, weight in decided[pair]
                                 if float(weight) > 0)
    if any(reason in problems for reason in REJECTING):
        return Verdict(dict(fallback), rejected=True, problems=problems)
    decision_mlu = predicted_mlu(graph, splits, demand_bps)
    fallback_mlu = predicted_mlu(graph, fallback, demand_bps)
    if decision_mlu > fallback_mlu * (1 + mlu_tolerance):
        problems[WORSE_MLU] = sorted(pair for pair in splits if splits[pair] != fallback.get(pair))
        return Verdict(dict(fallback), rejected=True, problems=problems,
                       predicted_mlu=decision_mlu, fallback_mlu=fallback_mlu)
    return Verdict(splits, problems=problems, predicted_mlu=decision_mlu, fallback_mlu=fallback_mlu)


# --- the churn budget ---------------------------------------------------------------------
def _as_installed(split: Split, scale: int) -> dict:
    """A split as the switches see it: its paths and their bucket weights."""
    total = sum(weight for _, weight in split) or 1.0
    merged: dict = {}
    for path, weight in split:
        merged[tuple(path)] = merged.get(tuple(path), 0.0) + weight / total
    return {path: max(1, round(scale * share)) for path, share in merged.items() if share > 0}


def is_move(old: Split, new: Split, scale: int = 1000) -> bool:
    """Whether installing ``new`` over ``old`` reroutes or reweighs the pair (bucket weights
    are whole ``1/scale`` parts of a group's traffic)."""
    return _as_installed(old, scale) != _as_installed(new, scale)


@dataclass(frozen=True)
class Budgeted:
    """`splits`: the decision within the budget; `held`: pairs kept on their installed split
    because they moved less than hold_down seconds ago; `deferred`: moves over max_moves, left
    for a later decision (largest demand first went through)."""

    splits: dict[Pair, Split]
    held: list[Pair] = field(default_factory=list)
    deferred: list[Pair] = field(default_factory=list)


def limit_churn(decided: Mapping[Pair, Split], current: Mapping[Pair, Split], graph: nx.DiGraph,
                demand_bps: Mapping[Pair, float], moved_at: Mapping[Pair, float], now: float,
                max_moves: int, hold_down: float) -> Budgeted:
    """``decided`` with at most ``max_moves`` pairs moved (0: no limit) and no pair moved that
    moved less than ``hold_down`` seconds before ``now`` (``moved_at``: when each pair last
    moved). A move is a pair whose installed split is intact and gets another one; new pairs
    and pairs with a broken installed path are repairs, never held nor counted. The moves
    allowed go by measured demand, largest first (ties: the lower pair first): the heaviest
    pairs are the ones whose placement changes the load most."""
    splits = dict(decided)
    held: list[Pair] = []
    moves: list[Pair] = []
    for pair, split in sorted(decided.items()):
        installed = current.get(pair)
        if not installed or split_problem(graph, pair, installed) is not None:
            continue  # new or broken: a repair
        if not is_move(installed, split):
            continue
        if hold_down > 0 and pair in moved_at and now - moved_at[pair] < hold_down:
            splits[pair] = installed
            held.append(pair)
        else:
            moves.append(pair)
    deferred: list[Pair] = []
    if max_moves > 0 and len(moves) > max_moves:
        ranked = sorted(moves, key=lambda pair: (-float(demand_bps.get(pair, 0.0)), pair))
        deferred = sorted(ranked[max_moves:])
        for pair in deferred:
            splits[pair] = current[pair]
    return Budgeted(splits, held, deferred)
