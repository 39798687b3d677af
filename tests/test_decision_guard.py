"""The decision guard and the churn budget, against hand-computed loads and literal decisions.

The network: two ways from switch 1 to switch 4, over 2 (10 Mbit/s links) and over 3 (5 Mbit/s
links), both directions. A demand of 6 Mbit/s from 1 to 4 all over 2 loads its links to 0.6,
all over 3 to 1.2; split 2/3 over 2 and 1/3 over 3 it loads every link to 0.4.
"""
from __future__ import annotations

import math

import networkx as nx
import pytest

from controller import decision_guard as guard

VIA_2, VIA_3 = (1, 2, 4), (1, 3, 4)
BACK_2, BACK_3 = (4, 2, 1), (4, 3, 1)
PAIR, BACK = (1, 4), (4, 1)


@pytest.fixture
def graph():
    g = nx.DiGraph()
    for a, b, capacity in [(1, 2, 10e6), (2, 4, 10e6), (1, 3, 5e6), (3, 4, 5e6)]:
        g.add_edge(a, b, capacity=capacity)
        g.add_edge(b, a, capacity=capacity)
    return g


FALLBACK = {PAIR: ((VIA_2, 1.0),), BACK: ((BACK_2, 1.0),)}
DEMAND = {PAIR: 6e6}


@pytest.mark.parametrize("splits, mlu", [
    ({PAIR: ((VIA_2, 1.0),)}, 0.6),
    ({PAIR: ((VIA_3, 1.0),)}, 1.2),
    ({PAIR: ((VIA_2, 0.5), (VIA_3, 0.5))}, 0.6),
    ({PAIR: ((VIA_2, 2 / 3), (VIA_3, 1 / 3))}, 0.4),
    ({PAIR: ((VIA_2, 2.0), (VIA_3, 1.0))}, 0.4),   # weights count relative to their sum
    ({BACK: ((BACK_3, 1.0),)}, 0.0),               # no demand measured back
])
def test_predicted_mlu_is_the_hand_computed_one(graph, splits, mlu):
    assert guard.predicted_mlu(graph, splits, DEMAND) == pytest.approx(mlu)


def test_a_decision_that_lowers_the_mlu_is_kept(graph):
    better = {PAIR: ((VIA_2, 2 / 3), (VIA_3, 1 / 3)), BACK: ((BACK_2, 1.0),)}
    verdict = guard.check_decision(better, graph, [PAIR, BACK], FALLBACK, DEMAND, 0.1)
    assert not verdict.rejected and verdict.problems == {}
    assert verdict.splits == better
    assert (verdict.predicted_mlu, verdict.fallback_mlu) == (pytest.approx(0.4), pytest.approx(0.6))


def test_a_decision_as_loaded_as_the_fallback_is_kept(graph):
    even = {PAIR: ((VIA_2, 0.5), (VIA_3, 0.5)), BACK: ((BACK_2, 1.0),)}
    verdict = guard.check_decision(even, graph, [PAIR, BACK], FALLBACK, DEMAND, 0.0)
    assert not verdict.rejected and verdict.splits == even


@pytest.mark.parametrize("tolerance, rejected", [(0.1, True), (1.0, False)])
def test_a_decision_worse_than_the_fallback_beyond_the_tolerance_is_rejected(graph, tolerance, rejected):
    worse = {PAIR: ((VIA_3, 1.0),), BACK: ((BACK_2, 1.0),)}  # MLU 1.2 against 0.6: twice as high
    verdict = guard.check_decision(worse, graph, [PAIR, BACK], FALLBACK, DEMAND, tolerance)
    assert verdict.rejected is rejected
    assert verdict.splits == (FALLBACK if rejected else worse)
    if rejected:
        assert verdict.problems == {guard.WORSE_MLU: [PAIR]}
        assert "1.200" in verdict.summary() and "0.600" in verdict.summary()


@pytest.mark.parametrize("split, reason", [
    (((VIA_2, math.nan),), guard.NON_FINITE),
    (((VIA_2, math.inf), (VIA_3, 1.0)), guard.NON_FINITE),
    (((VIA_2, 1.5), (VIA_3, -0.5)), guard.NEGATIVE),
    (((VIA_2, 0.0), (VIA_3, 0.0)), guard.ZERO),
    ((), guard.ZERO),
    (((VIA_2, 0.5), ((1, 2, 3, 4), 0.5)), guard.BROKEN_PATH),   # no link 2-3
    ((((1, 2, 1, 3, 4), 1.0),), guard.BROKEN_PATH),             # a loop
    ((((2, 4), 1.0),), guard.WRONG_ENDS),
    ((((1, 2), 1.0),), guard.WRONG_ENDS),
    ((((1,), 1.0),), guard.WRONG_ENDS),
])
def test_a_malformed_split_rejects_the_whole_decision(graph, split, reason):
    decided = {PAIR: split, BACK: ((BACK_3, 1.0),)}
    verdict = guard.check_decision(decided, graph, [PAIR, BACK], FALLBACK, DEMAND, 0.1)
    assert verdict.rejected and verdict.problems == {reason: [PAIR]}
    assert verdict.splits == FALLBACK  # the other pair's split is not trusted either


def test_a_routable_pair_left_out_takes_the_fallback_and_the_rest_stays(graph):
    decided = {PAIR: ((VIA_2, 2 / 3), (VIA_3, 1 / 3))}
    verdict = guard.check_decision(decided, graph, [PAIR, BACK, (2, 3)], FALLBACK, DEMAND, 0.1)
    # (2, 3) has no fallback split either: not routable, not missing
    assert not verdict.rejected and verdict.problems == {guard.MISSING_PAIR: [BACK]}
    assert verdict.splits == {PAIR: decided[PAIR], BACK: FALLBACK[BACK]}


def test_pairs_not_asked_for_are_dropped_and_zero_weights_beside_positive_ones_too(graph):
    decided = {PAIR: ((VIA_2, 1.0), (VIA_3, 0.0)), BACK: ((BACK_2, 1.0),), (2, 3): (((2, 1, 3), 1.0),)}
    verdict = guard.check_decision(decided, graph, [PAIR, BACK], FALLBACK, DEMAND, 0.1)
    assert verdict.splits == {PAIR: ((VIA_2, 1.0),), BACK: ((BACK_2, 1.0),)}


# --- the churn budget -----------------------------------------------------------------------
def ring_graph():
    g = nx.DiGraph()
    for a in range(1, 6):
        b = a % 5 + 1
        g.add_edge(a, b, capacity=10e6)
        g.add_edge(b, a, capacity=10e6)
    return g


SHORT_13, LONG_13 = (1, 2, 3), (1, 5, 4, 3)
SHORT_24, LONG_24 = (2, 3, 4), (2, 1, 5, 4)
SHORT_35, LONG_35 = (3, 4, 5), (3, 2, 1, 5)
INSTALLED = {(1, 3): ((SHORT_13, 1.0),), (2, 4): ((SHORT_24, 1.0),), (3, 5): ((SHORT_35, 1.0),)}
ALL_LONG = {(1, 3): ((LONG_13, 1.0),), (2, 4): ((LONG_24, 1.0),), (3, 5): ((LONG_35, 1.0),)}
RATES = {(1, 3): 1e6, (2, 4): 5e6, (3, 5): 3e6}


def test_max_moves_lets_the_largest_demands_move_first():
    budgeted = guard.limit_churn(ALL_LONG, INSTALLED, ring_graph(), RATES, {}, 100.0,
                                 max_moves=2, hold_down=0.0)
    assert budgeted.splits == {(1, 3): ((SHORT_13, 1.0),), (2, 4): ((LONG_24, 1.0),),
                               (3, 5): ((LONG_35, 1.0),)}
    assert budgeted.deferred == [(1, 3)] and budgeted.held == []


def test_no_budget_moves_everything():
    budgeted = guard.limit_churn(ALL_LONG, INSTALLED, ring_graph(), RATES, {}, 100.0, 0, 0.0)
    assert budgeted.splits == ALL_LONG and budgeted.deferred == [] and budgeted.held == []


def test_equal_demands_move_the_lower_pair_first():
    budgeted = guard.limit_churn(ALL_LONG, INSTALLED, ring_graph(), {}, {}, 100.0, 1, 0.0)
    assert budgeted.splits[(1, 3)] == ((LONG_13, 1.0),)
    assert budgeted.deferred == [(2, 4), (3, 5)]


def test_a_pair_moved_within_hold_down_stays_put_until_it_has_passed():
    moved_at = {(1, 3): 90.0, (2, 4): 60.0}
    held = guard.limit_churn(ALL_LONG, INSTALLED, ring_graph(), RATES, moved_at, 100.0, 0, 30.0)
    # (1, 3) moved 10 s ago: held; (2, 4) 40 s ago and (3, 5) never: free to move
    assert held.held == [(1, 3)]
    assert held.splits == {**ALL_LONG, (1, 3): ((SHORT_13, 1.0),)}
    later = guard.limit_churn(ALL_LONG, INSTALLED, ring_graph(), RATES, moved_at, 120.0, 0, 30.0)
    assert later.held == [] and later.splits == ALL_LONG


def test_new_and_broken_pairs_are_repairs_neither_held_nor_counted():
    graph = ring_graph()
    graph.remove_edge(2, 3)
    graph.remove_edge(3, 2)
    installed = {(1, 3): ((SHORT_13, 1.0),), (3, 5): ((SHORT_35, 1.0),)}  # 1-2-3 broke; (2, 4) new
    decided = {(1, 3): ((LONG_13, 1.0),), (2, 4): ((LONG_24, 1.0),), (3, 5): ((LONG_35, 1.0),)}
    moved_at = {(1, 3): 99.0, (3, 5): 10.0}
    budgeted = guard.limit_churn(decided, installed, graph, RATES, moved_at, 100.0, 1, 30.0)
    assert budgeted.splits == decided  # (3, 5) is the one move, within the budget of 1
    assert budgeted.held == [] and budgeted.deferred == []


def test_a_reweighting_below_a_bucket_weight_step_is_not_a_move():
    installed = {(1, 3): ((SHORT_13, 0.5), (LONG_13, 0.5))}
    nudged = {(1, 3): ((SHORT_13, 0.5004), (LONG_13, 0.4996))}   # both still 500/1000
    budgeted = guard.limit_churn(nudged, installed, ring_graph(), RATES, {(1, 3): 99.0}, 100.0, 0, 30.0)
    assert budgeted.held == []
    assert guard.is_move(installed[(1, 3)], ((SHORT_13, 0.51), (LONG_13, 0.49)))
    assert not guard.is_move(installed[(1, 3)], ((LONG_13, 1.0), (SHORT_13, 1.0)))
