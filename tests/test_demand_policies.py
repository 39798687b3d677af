"""The controller's demand-aware policies (pure): live graph + measured switch-pair demand -> a
split per pair (the router's shares, the LP optimum) or one path per pair."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from controller.demand_policies import FLOOR_SHARE, MIN_SHARE, LearnedPolicy, LpPolicy, OptimalPolicy
from controller.policy import ShortestPathPolicy, path_is_intact
from topologies.abilene import load_abilene
from topologies.catalog import link_facts
from topologies.traffic import gravity_traffic

PAIRS = [(a + 1, b + 1) for a in range(12) for b in range(12) if a != b]  # dpid = node + 1


def abilene_graph():
    graph = nx.DiGraph()
    for src, dst, capacity, weight in link_facts("abilene", 1.0):
        graph.add_edge(src, dst, capacity=capacity, ospf=weight)
    return graph


def demand_of(tm, pairs=PAIRS):
    return {(a, b): float(tm[a - 1, b - 1]) for a, b in pairs}


def mlu(graph, splits, demand):
    load = {}
    for pair, split in splits.items():
        for path, weight in split:
            for edge in zip(path, path[1:]):
                load[edge] = load.get(edge, 0.0) + weight * demand.get(pair, 0.0)
    return max(value / graph.edges[edge]["capacity"] for edge, value in load.items())


def assert_valid(graph, pair, split):
    assert split and abs(sum(weight for _, weight in split) - 1.0) <= 1e-9
    assert all(isinstance(weight, float) and weight >= MIN_SHARE for _, weight in split)
    assert [w for _, w in split] == sorted((w for _, w in split), reverse=True)
    for path, _ in split:
        assert (path[0], path[-1]) == pair and path_is_intact(graph, path) and len(set(path)) == len(path)


def only_path(split):
    ((path, weight),) = split
    assert weight == 1.0
    return path


@pytest.fixture(scope="module")
def single():
    return LearnedPolicy("qnn-abilene-single")


@pytest.fixture(scope="module")
def splitting():
    return LearnedPolicy("qnn-abilene")


def ospf_candidates(graph, pair, k=3):
    return [tuple(p) for p in list(nx.shortest_simple_paths(graph, *pair, weight="ospf"))[:k]]


def test_every_pair_gets_intact_loop_free_candidate_paths(single, splitting):
    graph = abilene_graph()
    demand = demand_of(gravity_traffic(load_abilene(), 1, seed=2)[0])
    assert not single.split and splitting.split  # as each checkpoint was trained
    for policy in (single, splitting):
        decided = policy.decide(graph, PAIRS, {}, demand)
        assert set(decided) == set(PAIRS)
        for pair, split in decided.items():
            assert_valid(graph, pair, split)
            assert all(path in ospf_candidates(graph, pair) for path, _ in split)
        if policy is single:
            assert all(len(split) == 1 for split in decided.values())
    assert any(len(split) > 1 for split in splitting.decide(graph, PAIRS, {}, demand).values())


def test_the_split_is_the_routers_shares_pruned_and_renormalised(splitting):
    """Against the router run directly on Abilene's own k shortest paths (node indices, the
    network's own link order), its shares pruned under MIN_SHARE by hand."""
    from qnn.models.loaded import LoadedRouter
    from qnn.paths import k_shortest_paths

    network = load_abilene()
    tm = gravity_traffic(network, 1, seed=7)[0]
    pathset = k_shortest_paths(network, 3)
    router = LoadedRouter("qnn-abilene")
    shares = router.decide(router.path_tensors(pathset), np.array([tm[s, t] for s, t in pathset.demands]))
    decided = splitting.decide(abilene_graph(), PAIRS, {}, demand_of(tm))
    pruned_somewhere = False
    for row, (s, t) in enumerate(pathset.demands):
        weighted = {tuple(n + 1 for n in path): float(shares[row, j])
                    for j, path in enumerate(pathset.paths[row]) if path}
        kept = {path: w for path, w in weighted.items() if w >= MIN_SHARE}
        pruned_somewhere |= len(kept) < len(weighted)
        expected = {path: w / sum(kept.values()) for path, w in kept.items()}
        got = dict(decided[(s + 1, t + 1)])
        assert set(got) == set(expected)
        assert all(abs(got[path] - expected[path]) <= 1e-5 for path in got)
    assert pruned_somewhere


def test_split_false_routes_a_split_checkpoint_on_its_highest_share():
    graph = abilene_graph()
    demand = demand_of(gravity_traffic(load_abilene(), 1, seed=8)[0])
    shares = LearnedPolicy("qnn-abilene", keep_margin=0.0).decide(graph, PAIRS, {}, demand)
    argmax = LearnedPolicy("qnn-abilene", keep_margin=0.0, split=False).decide(graph, PAIRS, {}, demand)
    for pair in PAIRS:
        assert only_path(argmax[pair]) == shares[pair][0][0]  # the heaviest path of the split


def test_measured_demand_steers_pairs_off_the_ospf_hot_spots(single, splitting):
    """Gravity traffic loaded onto Abilene: the QNN's single paths and its splits each give a
    lower maximum link utilisation than OSPF shortest paths on every matrix (fixed seed)."""
    graph = abilene_graph()
    spf = ShortestPathPolicy(weight="ospf").decide(graph, PAIRS)
    for tm in gravity_traffic(load_abilene(), 4, seed=1):
        demand = demand_of(tm)
        for policy in (single, splitting):
            assert mlu(graph, policy.decide(graph, PAIRS, {}, demand), demand) < 0.8 * mlu(graph, spf, demand)


@pytest.mark.parametrize("checkpoint", ["qnn-abilene-single", "qnn-abilene"])
def test_a_failed_link_is_never_used(checkpoint):
    graph = abilene_graph()
    graph.remove_edges_from([(5, 6), (6, 5)])  # one bidirectional link down
    demand = demand_of(gravity_traffic(load_abilene(), 1, seed=3)[0])
    decided = LearnedPolicy(checkpoint).decide(graph, PAIRS, {}, demand)
    assert len(decided) == len(PAIRS)
    for pair, split in decided.items():
        assert_valid(graph, pair, split)


def test_keep_margin_decides_whether_an_installed_candidate_stays():
    graph = abilene_graph()
    demand = demand_of(gravity_traffic(load_abilene(), 1, seed=4)[0])
    free = LearnedPolicy("qnn-abilene-single", keep_margin=0.0).decide(graph, PAIRS, {}, demand)
    # install, for every pair, a candidate the policy did not pick
    others = {}
    for pair in PAIRS:
        alternatives = [p for p in ospf_candidates(graph, pair) if p != only_path(free[pair])]
        others[pair] = ((alternatives[0] if alternatives else only_path(free[pair]), 1.0),)
    assert sum(others[p] != free[p] for p in PAIRS) > len(PAIRS) / 2
    sticky = LearnedPolicy("qnn-abilene-single", keep_margin=1.0).decide(graph, PAIRS, others, demand)
    assert sticky == others  # every share is within 1.0 of the best
    strict = LearnedPolicy("qnn-abilene-single", keep_margin=0.0).decide(graph, PAIRS, others, demand)
    assert strict == free  # ties aside, nothing is kept


def shifted(split, amount):
    """The split with ``amount`` of weight moved from its heaviest path to its second."""
    (first, w1), (second, w2), *rest = split
    return ((first, w1 - amount), (second, w2 + amount), *rest)


def test_an_installed_split_stays_while_no_weight_would_move_by_more_than_keep_margin():
    graph = abilene_graph()
    demand = demand_of(gravity_traffic(load_abilene(), 1, seed=9)[0])
    fresh = LearnedPolicy("qnn-abilene", keep_margin=0.0).decide(graph, PAIRS, {}, demand)
    spread = [pair for pair, split in fresh.items() if len(split) > 1 and split[0][1] > 0.2]
    assert spread
    near = {pair: shifted(fresh[pair], 0.05) for pair in spread}
    far = {pair: shifted(fresh[pair], 0.15) for pair in spread}
    sticky = LearnedPolicy("qnn-abilene", keep_margin=0.1)
    assert {p: sticky.decide(graph, PAIRS, near, demand)[p] for p in spread} == near  # kept as installed
    assert {p: sticky.decide(graph, PAIRS, far, demand)[p] for p in spread} == {p: fresh[p] for p in spread}
    # a path that is no candidate (the 4th shortest) installed beside them: the fresh split,
    # however close the rest
    foreign = {}
    for pair in spread:
        fourth = [tuple(p) for p in list(nx.shortest_simple_paths(graph, *pair, weight="ospf"))[3:4]]
        if fourth:
            (first, w1), *rest = near[pair]
            foreign[pair] = ((first, w1 - 0.02), *rest, (fourth[0], 0.02))
    assert foreign
    decided = sticky.decide(graph, PAIRS, foreign, demand)
    assert all(decided[p] == fresh[p] for p in foreign)


def test_a_pair_with_fewer_paths_than_k_never_gets_an_empty_path():
    line = nx.DiGraph()
    for a, b in ((1, 2), (2, 3)):
        line.add_edge(a, b, capacity=1e9, ospf=1.0)
        line.add_edge(b, a, capacity=1e9, ospf=1.0)
    for checkpoint in ("qnn-abilene-single", "qnn-abilene"):
        decided = LearnedPolicy(checkpoint, keep_margin=1.0).decide(line, [(1, 3), (3, 1)], {}, None)
        assert decided == {(1, 3): (((1, 2, 3), 1.0),), (3, 1): (((3, 2, 1), 1.0),)}


def test_unmeasured_same_switch_and_unreachable_pairs(splitting):
    graph = abilene_graph()
    graph.add_node(99)  # a switch with no links yet
    decided = splitting.decide(graph, [(1, 5), (3, 3), (1, 99), (77, 1)], {}, None)
    assert set(decided) == {(1, 5)}
    assert_valid(graph, (1, 5), decided[(1, 5)])


@pytest.mark.parametrize("unit", [1e-9, 1e-3, 1e3])
@pytest.mark.parametrize("checkpoint", ["qnn-abilene-single", "qnn-abilene"])
def test_demand_is_scale_free(checkpoint, unit):
    """Only relative demand matters: bits/s, Mbit/s or Gbit/s give the same decision, also with
    some pairs not measured yet."""
    policy = LearnedPolicy(checkpoint)
    graph = abilene_graph()
    demand = {pair: rate for i, (pair, rate) in
              enumerate(demand_of(gravity_traffic(load_abilene(), 1, seed=5)[0]).items()) if i % 5}
    a = policy.decide(graph, PAIRS, {}, demand)
    b = policy.decide(graph, PAIRS, {}, {pair: r * unit for pair, r in demand.items()})
    assert a.keys() == b.keys()
    for pair in a:
        assert [p for p, _ in a[pair]] == [p for p, _ in b[pair]]
        assert [w for _, w in a[pair]] == pytest.approx([w for _, w in b[pair]], abs=1e-5)


def test_policy_reports_what_it_runs(single, splitting):
    from qnn.models.quantum import QNNCore

    for policy in (single, splitting):
        assert policy.kind == "qnn" and isinstance(policy.loaded.router.core, QNNCore)
        assert policy.k == policy.loaded.router.k == 3
        counted = sum(t.numel() for t in policy.loaded.router.parameters())  # the loaded model's own
        assert f" {counted} parameters" in policy.description and "trained on abilene" in policy.description
    assert "single path" in single.description and "split" in splitting.description
    assert "single path" not in splitting.description


def test_optimal_policy_is_at_least_as_good_as_the_learned_one(single):
    graph = abilene_graph()
    optimal = OptimalPolicy(time_limit=20.0)
    for tm in gravity_traffic(load_abilene(), 2, seed=6):
        demand = demand_of(tm)
        best = optimal.decide(graph, PAIRS, {}, demand)
        assert len(best) == len(PAIRS) and all(len(split) == 1 for split in best.values())
        for pair, split in best.items():
            assert_valid(graph, pair, split)
        learned = single.decide(graph, PAIRS, {}, demand)
        assert mlu(graph, best, demand) <= mlu(graph, learned, demand) * (1 + 1e-3)


# --- the path LP --------------------------------------------------------------------------------
def two_ways(top=10e6, bottom=5e6):
    """1 to 4 over 2 (capacity ``top``) or over 3 (``bottom``), equal OSPF cost."""
    graph = nx.DiGraph()
    for (a, b), capacity in {(1, 2): top, (2, 4): top, (1, 3): bottom, (3, 4): bottom}.items():
        graph.add_edge(a, b, capacity=capacity, ospf=1.0)
        graph.add_edge(b, a, capacity=capacity, ospf=1.0)
    return graph


def test_lp_splits_in_proportion_to_capacity_on_two_disjoint_ways():
    """min over w of max(9 w / 10, 9 (1 - w) / 5): w = 2/3, MLU 0.6, by hand."""
    graph = two_ways()
    decided = LpPolicy().decide(graph, [(1, 4)], {}, {(1, 4): 9e6})
    assert [path for path, _ in decided[(1, 4)]] == [(1, 2, 4), (1, 3, 4)]
    assert [w for _, w in decided[(1, 4)]] == pytest.approx([2 / 3, 1 / 3], abs=1e-6)
    assert mlu(graph, decided, {(1, 4): 9e6}) == pytest.approx(0.6, rel=1e-6)
    one = LpPolicy(split=False).decide(graph, [(1, 4)], {}, {(1, 4): 9e6})
    assert one == {(1, 4): (((1, 2, 4), 1.0),)}


def test_lp_split_reaches_the_path_lp_optimum_on_abilene():
    """The decided splits' MLU (measured here from the graph) against qnn.lp's optimum on the
    same demand over Abilene's own k shortest paths: no lower, and no higher than pruning shares
    under MIN_SHARE can make it (at most k - 1 of them per pair)."""
    from qnn.lp import path_lp
    from qnn.paths import k_shortest_paths

    network = load_abilene()
    pathset = k_shortest_paths(network, 3)
    graph = abilene_graph()
    policy = LpPolicy()
    for tm in gravity_traffic(network, 3, seed=11):
        optimum = path_lp(pathset, np.array([tm[s, t] for s, t in pathset.demands])).mlu
        decided = policy.decide(graph, PAIRS, {}, demand_of(tm))
        for pair, split in decided.items():
            assert_valid(graph, pair, split)
            assert all(path in ospf_candidates(graph, pair) for path, _ in split)
        got = mlu(graph, decided, demand_of(tm))
        assert optimum * (1 - 1e-6) <= got <= optimum / (1 - 2 * MIN_SHARE) * (1 + 1e-6)
        unpruned = LpPolicy(min_share=0.0).decide(graph, PAIRS, {}, demand_of(tm))
        assert mlu(graph, unpruned, demand_of(tm)) == pytest.approx(optimum, rel=1e-6)
        single = LpPolicy(split=False).decide(graph, PAIRS, {}, demand_of(tm))
        assert all(len(split) == 1 for split in single.values())
        assert mlu(graph, single, demand_of(tm)) >= optimum * (1 - 1e-6)


def test_lp_gives_unmeasured_pairs_the_floor():
    """An unmeasured pair counts as FLOOR_SHARE of the largest measured demand. All links 10
    Mbit/s; 1 -> 4 (9 Mbit/s) over 1-2-4 or 1-3-4, unmeasured 2 -> 3 over 2-1-3 (sharing link
    1->3) or 2-4-3 (sharing 2->4): those two links carry 9 Mbit/s + the floor between them, so
    the optimum balances them at half of it each, which only a decision that counted the floor
    reaches."""
    graph = two_ways(top=10e6, bottom=10e6)
    decided = LpPolicy().decide(graph, [(1, 4), (2, 3)], {}, {(1, 4): 9e6})
    floor = FLOOR_SHARE * 9e6
    assert set(decided) == {(1, 4), (2, 3)}
    balanced = (9e6 + floor) / 2 / 10e6
    assert mlu(graph, decided, {(1, 4): 9e6, (2, 3): floor}) == pytest.approx(balanced, rel=1e-6)


# --- candidate paths ------------------------------------------------------------------------------
def test_a_checkpoint_trained_on_several_past_matrices_is_refused(tmp_path):
    from qnn.models.checkpoint import CheckpointError, save_checkpoint
    from qnn.models.train import build_model

    router = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 1, 2, "crx", "residual",
                         seed=0)
    meta = {"topology": {"name": "x"}, "k": 3, "setting": "predictive", "history": 6, "history_reduce": "max"}
    save_checkpoint(tmp_path / "qnn-x.pt", router, meta)
    with pytest.raises(CheckpointError, match="last 6 traffic matrices"):
        LearnedPolicy(tmp_path / "qnn-x.pt")


def test_candidates_are_searched_only_for_new_pairs_until_the_topology_changes(monkeypatch):
    import controller.demand_policies as demand_policies

    searched = []

    def recording_search(network, k, weight, demands):
        searched.append(len(demands))
        return real_search(network, k, weight=weight, demands=demands)

    real_search = demand_policies.candidate_paths
    monkeypatch.setattr(demand_policies, "candidate_paths", recording_search)
    graph = abilene_graph()
    demand = demand_of(gravity_traffic(load_abilene(), 1, seed=5)[0])
    first_hosts = [pair for pair in PAIRS if max(pair) <= 6]
    policy = LearnedPolicy("qnn-abilene", keep_margin=0.0)
    policy.decide(graph, first_hosts, {}, demand)
    decided = policy.decide(graph, PAIRS, {}, demand)  # six more switches got hosts
    assert searched == [30, 132 - 30]
    # the same paths as a policy that searched every pair afresh
    assert decided == LearnedPolicy("qnn-abilene", keep_margin=0.0).decide(graph, PAIRS, {}, demand)
    graph.remove_edges_from([(5, 6), (6, 5)])
    policy.decide(graph, PAIRS, {}, demand)
    assert searched[-1] == 132  # another topology: every pair again


def test_installed_paths_given_as_lists_count_as_the_same_paths():
    graph = abilene_graph()
    demand = demand_of(gravity_traffic(load_abilene(), 1, seed=9)[0])
    policy = LearnedPolicy("qnn-abilene", keep_margin=0.1)
    fresh = policy.decide(graph, PAIRS, {}, demand)
    as_lists = {pair: tuple((list(path), weight) for path, weight in split) for pair, split in fresh.items()}
    assert policy.decide(graph, PAIRS, as_lists, demand) == fresh


def test_min_gain_keeps_the_installed_splits_unless_the_decision_lowers_the_mlu_by_more():
    """On two_ways with 9 Mbit/s the optimum's MLU is 0.6 (above); by hand, 60/40 gives
    max(5.4 / 10, 3.6 / 5) = 0.72 (20 % above it) and everything below gives 9 / 5 = 1.8 (200 %)."""
    graph, demand = two_ways(), {(1, 4): 9e6}
    sixty_forty, all_below = (((1, 2, 4), 0.6), ((1, 3, 4), 0.4)), (((1, 3, 4), 1.0),)
    for installed, gain in ((sixty_forty, 0.2), (all_below, 2.0)):
        assert mlu(graph, {(1, 4): installed}, demand) == pytest.approx(0.6 * (1 + gain))
        for min_gain, kept in ((gain - 0.01, False), (gain + 0.01, True)):
            decided = LpPolicy(min_gain=min_gain).decide(graph, [(1, 4)], {(1, 4): installed}, demand)
            assert (decided[(1, 4)] == installed) is kept, (installed, min_gain)
    # a pair without an installed split takes the decision whatever the margin
    fresh = LpPolicy().decide(graph, [(1, 4)], {}, demand)
    assert LpPolicy(min_gain=0.9).decide(graph, [(1, 4)], {}, demand) == fresh
