"""Given tunnels are the candidate paths of the switch pairs they cover: the policy picks among
the intact ones only, even where they are not shortest; other pairs keep the k shortest."""
from __future__ import annotations

import networkx as nx
import pytest

import controller.demand_policies as demand_policies
from controller.demand_policies import LearnedPolicy, LpPolicy, OptimalPolicy

# Four switches: a direct 1-4 link (the shortest way, and the widest) and two detours via 2, 3.
EDGES = {(1, 4): 100e6, (1, 2): 10e6, (2, 4): 10e6, (1, 3): 10e6, (3, 4): 10e6, (2, 3): 10e6}
TUNNELS = {(1, 4): [(1, 2, 4), (1, 3, 4)]}
PAIRS = [(1, 4), (2, 3)]
DEMAND = {(1, 4): 12e6, (2, 3): 1e6}


def graph(without=()):
    g = nx.DiGraph()
    for (a, b), capacity in EDGES.items():
        for edge in ((a, b), (b, a)):
            if edge not in without and edge[::-1] not in without:
                g.add_edge(*edge, capacity=capacity, ospf=1.0)
    return g


@pytest.fixture(params=["milp", "qnn", "qnn-split", "lp"])
def make(request):
    return {"milp": lambda tunnels=None: OptimalPolicy(tunnels=tunnels),
            "qnn": lambda tunnels=None: LearnedPolicy("qnn-abilene-single", keep_margin=0.0, tunnels=tunnels),
            "qnn-split": lambda tunnels=None: LearnedPolicy("qnn-abilene", keep_margin=0.0, tunnels=tunnels),
            "lp": lambda tunnels=None: LpPolicy(tunnels=tunnels)}[request.param]


def paths(split):
    return [path for path, _ in split]


def test_without_tunnels_the_direct_link_carries_most(make):
    decided = make().decide(graph(), PAIRS, {}, DEMAND)
    assert paths(decided[(1, 4)])[0] == (1, 4)


def test_the_policy_picks_among_the_tunnels_only(make):
    decided = make(TUNNELS).decide(graph(), PAIRS, {}, DEMAND)
    assert set(paths(decided[(1, 4)])) <= set(TUNNELS[(1, 4)])
    assert decided[(2, 3)] == (((2, 3), 1.0),)  # not tunnelled: its shortest path, the only candidate
    assert abs(sum(weight for _, weight in decided[(1, 4)]) - 1) <= 1e-9


def test_a_broken_tunnel_leaves_the_other_and_all_broken_falls_back_to_shortest(make):
    policy = make(TUNNELS)
    decided = policy.decide(graph(without={(2, 4)}), PAIRS, {}, DEMAND)
    assert decided[(1, 4)] == (((1, 3, 4), 1.0),)
    assert paths(policy.decide(graph(without={(2, 4), (3, 4)}), PAIRS, {}, DEMAND)[(1, 4)])[0] == (1, 4)


def test_the_lp_splits_the_tunnels_evenly():
    """12 Mbit/s over two 10 Mbit/s tunnels (2 -> 3's 1 Mbit/s on its own link): 6 each."""
    decided = LpPolicy(tunnels=TUNNELS).decide(graph(), PAIRS, {}, DEMAND)
    assert sorted(paths(decided[(1, 4)])) == [(1, 2, 4), (1, 3, 4)]
    assert [weight for _, weight in decided[(1, 4)]] == pytest.approx([0.5, 0.5], abs=1e-6)


def test_tunnelled_pairs_are_never_searched_and_the_cache_holds(monkeypatch):
    searched = []
    real_search = demand_policies.candidate_paths

    def recording_search(network, k, weight, demands):
        searched.append(len(demands))
        return real_search(network, k, weight=weight, demands=demands)

    monkeypatch.setattr(demand_policies, "candidate_paths", recording_search)
    policy = OptimalPolicy(tunnels=TUNNELS)
    policy.decide(graph(), PAIRS, {}, DEMAND)
    policy.decide(graph(), PAIRS, {}, DEMAND)
    assert searched == [1]  # (2, 3) once; (1, 4) from its tunnels
    policy.decide(graph(without={(2, 4)}), PAIRS, {}, DEMAND)
    assert searched == [1, 1]  # another topology: searched again, still only (2, 3)


def test_more_tunnels_than_k_keep_the_first_k():
    many = {(1, 4): [(1, 2, 4), (1, 3, 4), (1, 2, 3, 4), (1, 3, 2, 4)]}
    policy = OptimalPolicy(k=2, tunnels=many)
    pathset, switch_paths, _ = policy._candidates(graph(), [(1, 4)])
    assert switch_paths == [[(1, 2, 4), (1, 3, 4)]]
