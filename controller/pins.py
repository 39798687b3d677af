"""Operator pins: a switch pair's split fixed by hand, over whatever the policy decides.

An operator pins a pair to chosen paths and weights (maintenance, a customer's path, a test that
forces changes); the pin holds while its paths are intact in the live graph and the policy's
decision covers the pair again once a pinned path breaks or the pin is removed. Pure: the REST
layer parses requests into :func:`parse_pin`, the app applies :meth:`Pins.apply` to each decision.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import networkx as nx

from controller.policy import path_is_intact
from controller.splits import Link, Pair, Split, SwitchPath, parse_dpid_pair

PIN_FIELDS = {"paths", "weights"}
MAX_PINNED_PATHS = 8


class PinError(ValueError):
    """A pin request that cannot be used, with what is wrong in it."""


def parse_pair(text: str) -> Pair:
    """``"<src>-<dst>"`` (decimal dpids) as a pair of distinct switches."""
    return parse_dpid_pair(text, "pair", "<src dpid>-<dst dpid>", PinError)


def parse_pin(pair: Pair, body: object, graph: nx.DiGraph, drained: Collection[Link] = ()) -> Split:
    """A pin body ``{"paths": [[dpid, ...], ...], "weights": [w, ...]}`` (weights optional:
    equal) checked against the live graph: each path runs from the pair's source to its
    destination without repeating a switch, over links that exist now; weights are finite,
    positive, one per path; ``drained``: the cables (min dpid, max dpid) the operator took out
    of ``graph``, named as drained when a path uses one. Returns the split with weights
    normalised to sum to 1."""
    if not isinstance(body, dict):
        raise PinError("the body must be a JSON object with 'paths' (and optionally 'weights')")
    unknown = sorted(set(body) - PIN_FIELDS)
    if unknown:
        raise PinError(f"unknown field(s) {', '.join(map(repr, unknown))} (known: paths, weights)")
    paths = body.get("paths")
    if not isinstance(paths, list) or not paths:
        raise PinError("'paths' must be a non-empty list of switch paths (lists of dpids)")
    if len(paths) > MAX_PINNED_PATHS:
        raise PinError(f"'paths' lists {len(paths)} paths; a pin takes at most {MAX_PINNED_PATHS} "
                       "(each is a tunnel in the switches)")
    weights = body.get("weights", [1.0] * len(paths))
    if not isinstance(weights, list) or len(weights) != len(paths):
        raise PinError(f"'weights' must be a list of {len(paths)} numbers, one per path")
    split = []
    for number, (path, weight) in enumerate(zip(paths, weights)):
        split.append((_checked_path(pair, number, path, graph, drained), _checked_weight(number, weight)))
    if len({path for path, _ in split}) != len(split):
        raise PinError("a path is given twice")
    largest = max(weight for _, weight in split)  # first: a sum of huge weights overflows
    total = sum(weight / largest for _, weight in split)
    return tuple((path, weight / largest / total) for path, weight in split)


def _checked_path(pair: Pair, number: int, path: object, graph: nx.DiGraph,
                  drained: Collection[Link]) -> SwitchPath:
    if not isinstance(path, list) or not all(type(d) is int for d in path) or len(path) < 2:
        raise PinError(f"paths[{number}] must be a list of at least two dpids (integers)")
    if (path[0], path[-1]) != pair:
        raise PinError(f"paths[{number}] runs {path[0]} -> {path[-1]}, not {pair[0]} -> {pair[1]}")
    if len(set(path)) != len(path):
        raise PinError(f"paths[{number}] visits a switch twice")
    absent = [(a, b) for a, b in zip(path, path[1:]) if not graph.has_edge(a, b)]
    out = [f"{a}-{b}" for a, b in absent if (min(a, b), max(a, b)) in drained]
    if out:
        raise PinError(f"paths[{number}] uses drained link(s) {', '.join(out)}: undrain them first, "
                       "or pin the pair elsewhere")
    missing = [f"{a}-{b}" for a, b in absent]
    if missing:
        raise PinError(f"paths[{number}] uses link(s) the controller does not see: {', '.join(missing)}")
    return tuple(path)


def _checked_weight(number: int, weight: object) -> float:
    try:
        finite = type(weight) in (int, float) and math.isfinite(weight) and weight > 0
        value = float(weight) if finite else 0.0
    except OverflowError:  # an integer beyond any float
        finite = False
    if not finite:
        shown = repr(weight) if not isinstance(weight, int) or weight.bit_length() < 64 else \
            f"an integer of {weight.bit_length()} bits"
        raise PinError(f"weights[{number}] must be a finite number greater than 0, not {shown}")
    return value


class Pins:
    """The pinned splits, by switch pair."""

    def __init__(self):
        self.splits: dict[Pair, Split] = {}

    def pin(self, pair: Pair, split: Split) -> None:
        self.splits[pair] = split

    def unpin(self, pair: Pair) -> bool:
        """Remove a pin; returns whether there was one."""
        return self.splits.pop(pair, None) is not None

    def apply(self, decided: Mapping[Pair, Split], graph: nx.DiGraph,
              pairs: Collection[Pair]) -> dict[Pair, Split]:
        """The decision with the split of every pinned pair among `pairs` (those with hosts at
        both ends) in place of the policy's, where all of the pin's paths are intact in `graph`
        (a pin over a broken path yields to the policy until the path is back, rather than
        sending traffic into it)."""
        result = dict(decided)
        for pair, split in self.splits.items():
            if pair in pairs and all(path_is_intact(graph, path) for path, _ in split):
                result[pair] = split
        return result

    def describe(self) -> list[dict]:
        return [{"src": src, "dst": dst, "paths": [list(path) for path, _ in split],
                 "weights": [weight for _, weight in split]}
                for (src, dst), split in sorted(self.splits.items())]
