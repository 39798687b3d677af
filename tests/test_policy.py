"""ShortestPathPolicy: one shortest path per switch pair, stable while it stays shortest, or with
split equal weights over the equal-cost shortest paths (ECMP); keep_intact_else; make_policy."""
from __future__ import annotations

import itertools
import logging

import networkx as nx
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from controller.policy import (ECMP_MAX_PATHS, ShortestPathPolicy, keep_intact_else, make_policy,
                               path_cost, path_is_intact, split_of)
from controller.settings import Settings


def ring(n):
    graph = nx.DiGraph()
    for i in range(1, n + 1):
        j = i % n + 1
        graph.add_edge(i, j, utilisation=0.0)
        graph.add_edge(j, i, utilisation=0.0)
    return graph


def only_path(split):
    """The one path of a one-path split (fails on anything else)."""
    ((path, weight),) = split
    assert weight == 1.0
    return path


def assert_valid(graph, pair, split):
    assert split and abs(sum(weight for _, weight in split) - 1.0) <= 1e-9
    assert all(weight > 0 for _, weight in split)
    assert [weight for _, weight in split] == sorted((weight for _, weight in split), reverse=True)
    paths = [path for path, _ in split]
    assert len(set(paths)) == len(paths)
    for path in paths:
        assert (path[0], path[-1]) == pair and path_is_intact(graph, path) and len(set(path)) == len(path)


def test_shortest_by_hops():
    decided = ShortestPathPolicy().decide(ring(6), [(1, 3), (1, 5)])
    assert decided == {(1, 3): (((1, 2, 3), 1.0),), (1, 5): (((1, 6, 5), 1.0),)}


def test_keeps_an_installed_path_that_is_still_shortest():
    graph = ring(4)   # 1 to 3: (1, 2, 3) and (1, 4, 3) tie
    policy = ShortestPathPolicy()
    first = only_path(policy.decide(graph, [(1, 3)])[(1, 3)])
    other = (1, 4, 3) if first == (1, 2, 3) else (1, 2, 3)
    assert only_path(policy.decide(graph, [(1, 3)], {(1, 3): ((other, 1.0),)})[(1, 3)]) == other
    assert only_path(policy.decide(graph, [(1, 3)], {(1, 3): ((list(other), 1.0),)})[(1, 3)]) == other


def test_replaces_an_installed_path_that_is_no_longer_shortest():
    decided = ShortestPathPolicy().decide(ring(6), [(1, 3)], {(1, 3): (((1, 6, 5, 4, 3), 1.0),)})
    assert only_path(decided[(1, 3)]) == (1, 2, 3)


def test_moves_a_pair_whose_path_lost_a_link():
    graph = ring(5)
    graph.remove_edge(2, 3)
    decided = ShortestPathPolicy().decide(graph, [(1, 3)], {(1, 3): (((1, 2, 3), 1.0),)})
    assert only_path(decided[(1, 3)]) == (1, 5, 4, 3)


def test_ignores_an_installed_split_with_other_endpoints():
    decided = ShortestPathPolicy().decide(ring(6), [(1, 3)], {(1, 3): (((2, 3), 1.0),)})
    assert only_path(decided[(1, 3)]) == (1, 2, 3)


def test_weight_attribute_picks_the_lighter_path():
    graph = ring(4)
    graph[1][2]["congestion"] = 11.0
    for a, b in graph.edges:
        graph[a][b].setdefault("congestion", 1.0)
    policy = ShortestPathPolicy(weight="congestion")
    assert only_path(policy.decide(graph, [(1, 3)])[(1, 3)]) == (1, 4, 3)
    # and leaves a path that became heavier than the alternative
    assert only_path(policy.decide(graph, [(1, 3)], {(1, 3): (((1, 2, 3), 1.0),)})[(1, 3)]) == (1, 4, 3)
    # hop count ignores the attribute
    assert path_cost(graph, (1, 2, 3), None) == 2.0
    assert path_cost(graph, (1, 2, 3), "congestion") == 12.0


@pytest.mark.parametrize("split", [False, True])
def test_unreachable_unknown_or_same_switch_pairs_get_no_split(split):
    graph = ring(4)
    graph.add_node(9)
    decided = ShortestPathPolicy(split=split).decide(graph, [(1, 9), (1, 42), (42, 1), (2, 2), (1, 2)])
    assert decided == {(1, 2): (((1, 2), 1.0),)}


def test_path_is_intact():
    graph = ring(4)
    assert path_is_intact(graph, (1, 2, 3))
    assert not path_is_intact(graph, (1, 3))
    assert not path_is_intact(graph, (7,))
    graph.remove_edge(2, 3)
    assert not path_is_intact(graph, (1, 2, 3))


@pytest.mark.parametrize("n", [3, 5, 8])
def test_every_decided_path_is_intact_and_minimal(n):
    graph = ring(n)
    pairs = [(a, b) for a in graph for b in graph if a != b]
    decided = ShortestPathPolicy().decide(graph, pairs)
    assert set(decided) == set(pairs)
    for (a, b), split in decided.items():
        assert_valid(graph, (a, b), split)
        assert len(only_path(split)) - 1 == nx.shortest_path_length(graph, a, b)


# --- ECMP --------------------------------------------------------------------------------------
def grid(width, height):
    """Switch (x, y) is dpid 10 * x + y + 1; every link both ways, unit weight."""
    graph = nx.DiGraph()
    for x, y in itertools.product(range(width), range(height)):
        for dx, dy in ((1, 0), (0, 1)):
            if x + dx < width and y + dy < height:
                a, b = 10 * x + y + 1, 10 * (x + dx) + y + dy + 1
                graph.add_edge(a, b, ospf=1.0)
                graph.add_edge(b, a, ospf=1.0)
    return graph


def brute_force_shortest(graph, src, dst, weight=None):
    """Every simple path of least cost, by enumerating all simple paths."""
    paths = [tuple(p) for p in nx.all_simple_paths(graph, src, dst)]
    best = min(path_cost(graph, p, weight) for p in paths)
    return {p for p in paths if path_cost(graph, p, weight) <= best + 1e-9}


def test_ecmp_on_a_square_splits_evenly_over_both_ways():
    decided = ShortestPathPolicy(split=True).decide(ring(4), [(1, 3), (1, 2)])
    assert {path for path, _ in decided[(1, 3)]} == {(1, 2, 3), (1, 4, 3)}
    assert [weight for _, weight in decided[(1, 3)]] == [0.5, 0.5]
    assert decided[(1, 2)] == (((1, 2), 1.0),)  # one shortest way: one path


@pytest.mark.parametrize("weight", [None, "ospf"])
def test_ecmp_paths_are_equal_cost_shortest_ones_capped(weight):
    graph = grid(3, 3)
    graph[1][2]["ospf"] = graph[2][1]["ospf"] = 2.0  # by OSPF weight, fewer ties out of corner 1
    pairs = [(a, b) for a in graph for b in graph if a != b]
    decided = ShortestPathPolicy(weight=weight, split=True).decide(graph, pairs)
    assert set(decided) == set(pairs)
    capped = 0
    for pair, split in decided.items():
        assert_valid(graph, pair, split)
        every = brute_force_shortest(graph, *pair, weight)
        paths = {path for path, _ in split}
        assert paths <= every and len(paths) == min(len(every), ECMP_MAX_PATHS)
        assert all(abs(w - 1 / len(paths)) <= 1e-12 for _, w in split)
        capped += len(every) > ECMP_MAX_PATHS
    assert capped  # corner to corner of a 3 x 3 grid: 6 ways by hops


def test_ecmp_keeps_the_installed_equal_cost_paths():
    graph = grid(3, 3)  # corner 1 to corner 23: six shortest ways, three are installed
    every = sorted(brute_force_shortest(graph, 1, 23))
    policy = ShortestPathPolicy(split=True)
    fresh = {path for path, _ in policy.decide(graph, [(1, 23)])[(1, 23)]}
    installed = tuple((path, 1 / 3) for path in every if path not in fresh)[:3]
    kept = policy.decide(graph, [(1, 23)], {(1, 23): installed})[(1, 23)]
    assert {path for path, _ in kept} == {path for path, _ in installed}
    # unequal installed weights are evened out over the same paths
    uneven = ((installed[0][0], 0.6), (installed[1][0], 0.3), (installed[2][0], 0.1))
    assert policy.decide(graph, [(1, 23)], {(1, 23): uneven})[(1, 23)] == kept
    # fewer paths than there are equal-cost ways: a fresh set of three
    assert len(policy.decide(graph, [(1, 23)], {(1, 23): ((every[0], 1.0),)})[(1, 23)]) == 3


def test_ecmp_without_split_is_exactly_one_path():
    graph = grid(3, 3)
    pairs = [(a, b) for a in graph for b in graph if a != b]
    for pair, split in ShortestPathPolicy(split=False).decide(graph, pairs).items():
        assert only_path(split) in brute_force_shortest(graph, *pair)


def test_split_of_drops_small_shares_and_renormalises():
    split = split_of([((1, 2), 0.005), ((1, 3, 2), 0.695), ((1, 4, 2), 0.3)], 0.01)
    assert [path for path, _ in split] == [(1, 3, 2), (1, 4, 2)]
    assert [weight for _, weight in split] == pytest.approx([0.695 / 0.995, 0.3 / 0.995], abs=1e-15)
    assert split_of([((1, 2), 0.0), ((1, 3, 2), 2.0)]) == (((1, 3, 2), 1.0),)
    with pytest.raises(ValueError):
        split_of([((1, 2), 0.0)])


# --- keep_intact_else --------------------------------------------------------------------------
def test_keep_intact_else_moves_only_new_and_broken_pairs():
    graph = ring(5)
    graph.remove_edge(2, 1)
    current = {(1, 3): (((1, 5, 4, 3), 1.0),),
               (2, 5): (((2, 1, 5), 1.0),),
               (1, 4): (((1, 2), 1.0),),                            # other endpoints
               (3, 1): (((3, 2, 1), 0.6), ((3, 4, 5, 1), 0.4))}    # half broken
    pairs = [(1, 3), (2, 5), (1, 4), (3, 1), (4, 5)]
    decided = keep_intact_else(ShortestPathPolicy(), graph, pairs, current)
    assert decided[(1, 3)] == (((1, 5, 4, 3), 1.0),)   # long, but intact: not moved
    assert decided[(2, 5)] == (((2, 3, 4, 5), 1.0),)   # its link is gone: rerouted
    assert decided[(1, 4)] == (((1, 5, 4), 1.0),)      # installed paths have other endpoints
    assert decided[(3, 1)] == (((3, 4, 5, 1), 1.0),)   # the intact part keeps all of it
    assert decided[(4, 5)] == (((4, 5), 1.0),)


def test_keep_intact_else_renormalises_the_intact_paths_of_a_split():
    graph = ring(6)
    graph.add_edge(6, 3)
    graph.remove_edge(1, 2)
    current = {(1, 4): (((1, 2, 3, 4), 0.5), ((1, 6, 3, 4), 0.2), ((1, 6, 5, 4), 0.3))}
    decided = keep_intact_else(ShortestPathPolicy(), graph, [(1, 4)], current)
    assert [path for path, _ in decided[(1, 4)]] == [(1, 6, 5, 4), (1, 6, 3, 4)]
    assert [weight for _, weight in decided[(1, 4)]] == pytest.approx([0.6, 0.4], abs=1e-12)


# --- make_policy ------------------------------------------------------------------------------
def weighted_square(attribute):
    """1 to 3 two hops either way; the way over 2 is the heavier by `attribute`."""
    graph = ring(4)
    for a, b in graph.edges:
        graph[a][b].update(congestion=1.0, ospf=1.0)
    graph[1][2][attribute] = 11.0
    return graph


def test_make_policy_gives_shortest_paths_by_the_configured_weight():
    log = logging.getLogger("test")
    policy, fallback, problem = make_policy(Settings(), log)
    assert policy is fallback and problem == "" and policy.name == "shortest-path"
    assert policy.description == "shortest-path"  # the REST view's "policy", as ever
    for setting, attribute in (("utilisation", "congestion"), ("ospf", "ospf")):
        policy, _, _ = make_policy(Settings(routing_weight=setting, topology="abilene"), log)
        assert policy.decide(weighted_square(attribute), [(1, 3)]) == {(1, 3): (((1, 4, 3), 1.0),)}


def test_make_policy_with_split_gives_ecmp_and_falls_back_to_one_path():
    policy, fallback, problem = make_policy(Settings(split="true"), logging.getLogger("test"))
    assert problem == "" and policy.name == fallback.name == "shortest-path"
    assert "split" in policy.description and "split" not in fallback.description
    assert len(policy.decide(ring(4), [(1, 3)])[(1, 3)]) == 2
    assert len(fallback.decide(ring(4), [(1, 3)])[(1, 3)]) == 1


def test_make_policy_bounds_the_milp_by_half_the_reoptimisation_interval():
    policy, fallback, problem = make_policy(Settings(policy="milp", reoptimize_interval=1.0),
                                            logging.getLogger("test"))
    assert (policy.name, policy.time_limit, problem, policy.split) == ("milp", 0.5, "", False)
    assert fallback.name == "shortest-path" and not fallback.split


@pytest.mark.parametrize("split, splits", [("auto", True), ("true", True), ("false", False)])
def test_make_policy_builds_the_lp(split, splits):
    policy, fallback, problem = make_policy(Settings(policy="lp", split=split), logging.getLogger("test"))
    assert (policy.name, policy.split, problem) == ("lp", splits, "")
    assert ("single path" in policy.description) is not splits
    assert "time limit" in policy.description


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
@pytest.mark.parametrize("split, checkpoint, splits, trained_single", [
    ("auto", "", True, False),                       # the shipped split checkpoint
    ("false", "", False, True),                      # the shipped single-path one
    ("true", "", True, False),
    ("auto", "{kind}-abilene-single", False, True),  # the checkpoint's training decides
    ("false", "{kind}-abilene", False, False),       # argmax of a split-trained one
])
def test_make_policy_loads_the_checkpoint_the_split_setting_means(kind, split, checkpoint, splits,
                                                                  trained_single):
    settings = Settings(policy=kind, split=split, checkpoint=checkpoint.format(kind=kind))
    policy, _, problem = make_policy(settings, logging.getLogger("test"))
    assert problem == "" and policy.kind == kind
    assert (policy.split, policy.trained_single_path) == (splits, trained_single)
    assert policy.meta.get("single_path", False) is trained_single  # the sidecar says so
    assert ("single path" in policy.description) is not splits


def test_make_policy_warns_when_splitting_a_single_path_checkpoint(caplog):
    with caplog.at_level(logging.WARNING):
        settings = Settings(policy="qnn", split="true", checkpoint="qnn-abilene-single")
        policy, _, problem = make_policy(settings, logging.getLogger("test"))
    assert policy.split and problem == ""
    assert any("trained for one path per pair" in r.getMessage() for r in caplog.records)


def test_make_policy_falls_back_to_shortest_paths_when_the_checkpoint_is_missing(tmp_path, caplog):
    missing = tmp_path / "missing.pt"
    with caplog.at_level(logging.ERROR):
        policy, fallback, problem = make_policy(Settings(policy="qnn", checkpoint=str(missing)),
                                                logging.getLogger("test"))
    assert policy is fallback and policy.name == "shortest-path"
    assert problem.startswith("policy qnn unavailable") and str(missing) in problem
    assert [r.getMessage() for r in caplog.records] == [f"{problem}; routing by shortest path instead"]


@hsettings(max_examples=200, deadline=None)
@given(shares=st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1, max_size=6)
       .filter(lambda shares: sum(shares) > 0))
def test_split_of_any_shares_is_a_split_of_the_large_ones_in_proportion(shares):
    paths = [(1, 10 + i, 2) for i in range(len(shares))]
    split = split_of(zip(paths, shares), 0.01)
    total = sum(shares)
    expected = {path for path, share in zip(paths, shares) if share > 0 and share >= 0.01 * total}
    expected = expected or {paths[shares.index(max(shares))]}
    assert {path for path, _ in split} == expected
    assert abs(sum(weight for _, weight in split) - 1.0) <= 1e-9
    assert all(weight >= 0.01 for _, weight in split)
    assert [w for _, w in split] == sorted((w for _, w in split), reverse=True)
    share_of = dict(zip(paths, shares))
    (first, w1), *rest = split
    for path, weight in rest:  # the weights keep the shares' ratios (taken first: subnormal shares)
        assert weight == pytest.approx(w1 * (share_of[path] / share_of[first]), rel=1e-9)
