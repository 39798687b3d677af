"""The controller's demand-aware policies (pure): live graph + measured flow rates -> one path per flow."""
from __future__ import annotations

import networkx as nx
import pytest

from controller.demand_policies import LearnedPolicy
from controller.policy import ShortestPathPolicy, path_is_intact
from topologies.abilene import load_abilene
from topologies.catalog import link_facts
from topologies.traffic import gravity_traffic

FLOWS = {(a, b): (a + 1, b + 1) for a in range(12) for b in range(12) if a != b}  # dpid = node + 1


def abilene_graph():
    graph = nx.DiGraph()
    for src, dst, capacity, weight in link_facts("abilene", 1.0):
        graph.add_edge(src, dst, capacity=capacity, ospf=weight)
    return graph


def mlu(graph, paths, tm):
    load = {}
    for (a, b), path in paths.items():
        for edge in zip(path, path[1:]):
            load[edge] = load.get(edge, 0.0) + tm[a, b]
    return max(value / graph.edges[edge]["capacity"] for edge, value in load.items())


@pytest.fixture(scope="module")
def policy():
    return LearnedPolicy("qnn-abilene-single")


def test_every_flow_gets_an_intact_loop_free_candidate_path(policy):
    graph = abilene_graph()
    tm = gravity_traffic(load_abilene(), 1, seed=2)[0]
    decided = policy.decide(graph, FLOWS, {}, {f: tm[f] for f in FLOWS})
    assert set(decided) == set(FLOWS)
    for flow, path in decided.items():
        assert (path[0], path[-1]) == FLOWS[flow] and path_is_intact(graph, path)
        assert len(set(path)) == len(path)
        shortest = list(nx.shortest_simple_paths(graph, *FLOWS[flow], weight="ospf"))[:3]
        assert list(path) in shortest


def test_measured_rates_steer_flows_off_the_ospf_hot_spots(policy):
    """Gravity traffic loaded onto Abilene: the QNN's single paths give a lower maximum link
    utilisation than OSPF shortest paths on every matrix (fixed seed)."""
    graph = abilene_graph()
    spf = ShortestPathPolicy(weight="ospf").decide(graph, FLOWS)
    for tm in gravity_traffic(load_abilene(), 4, seed=1):
        learned = policy.decide(graph, FLOWS, {}, {f: tm[f] for f in FLOWS})
        assert mlu(graph, learned, tm) < 0.8 * mlu(graph, spf, tm)


def test_a_failed_link_is_never_used(policy):
    graph = abilene_graph()
    graph.remove_edges_from([(5, 6), (6, 5)])  # one bidirectional link down
    tm = gravity_traffic(load_abilene(), 1, seed=3)[0]
    decided = policy.decide(graph, FLOWS, {}, {f: tm[f] for f in FLOWS})
    assert len(decided) == len(FLOWS)
    assert all(path_is_intact(graph, path) for path in decided.values())


def test_keep_margin_decides_whether_an_installed_candidate_stays():
    graph = abilene_graph()
    tm = gravity_traffic(load_abilene(), 1, seed=4)[0]
    rates = {f: tm[f] for f in FLOWS}
    free = LearnedPolicy("qnn-abilene-single", keep_margin=0.0).decide(graph, FLOWS, {}, rates)
    # install, for every flow, a candidate the policy did not pick
    others = {}
    for flow, (s, t) in FLOWS.items():
        alternatives = [tuple(p) for p in list(nx.shortest_simple_paths(graph, s, t, weight="ospf"))[:3]
                        if tuple(p) != free[flow]]
        others[flow] = alternatives[0] if alternatives else free[flow]
    assert sum(others[f] != free[f] for f in FLOWS) > len(FLOWS) / 2
    sticky = LearnedPolicy("qnn-abilene-single", keep_margin=1.0).decide(graph, FLOWS, others, rates)
    assert sticky == others  # every share is within 1.0 of the best
    strict = LearnedPolicy("qnn-abilene-single", keep_margin=0.0).decide(graph, FLOWS, others, rates)
    assert strict == free  # ties aside, nothing is kept


def test_a_pair_with_fewer_paths_than_k_never_gets_an_empty_path():
    line = nx.DiGraph()
    for a, b in ((1, 2), (2, 3)):
        line.add_edge(a, b, capacity=1e9, ospf=1.0)
        line.add_edge(b, a, capacity=1e9, ospf=1.0)
    flows = {"new": (1, 3), "back": (3, 1)}
    decided = LearnedPolicy("qnn-abilene-single", keep_margin=1.0).decide(line, flows, {}, None)
    assert decided == {"new": (1, 2, 3), "back": (3, 2, 1)}


def test_unmeasured_flows_same_switch_and_unreachable_pairs(policy):
    graph = abilene_graph()
    graph.add_node(99)  # a switch with no links yet
    flows = {"a": (1, 5), "b": (3, 3), "c": (1, 99), "d": (77, 1)}
    decided = policy.decide(graph, flows, {}, None)
    assert decided["b"] == (3,)
    assert "c" not in decided and "d" not in decided
    assert decided["a"][0] == 1 and decided["a"][-1] == 5 and path_is_intact(graph, decided["a"])


@pytest.mark.parametrize("unit", [1e-9, 1e-3, 1e3])
def test_rates_scale_free(policy, unit):
    """Only relative rates matter: bits/s, Mbit/s or Gbit/s give the same decision, also with
    some flows not measured yet."""
    graph = abilene_graph()
    tm = gravity_traffic(load_abilene(), 1, seed=5)[0]
    rates = {f: tm[f] for i, f in enumerate(FLOWS) if i % 5}  # every fifth flow unmeasured
    a = policy.decide(graph, FLOWS, {}, rates)
    b = policy.decide(graph, FLOWS, {}, {f: r * unit for f, r in rates.items()})
    assert a == b


def test_policy_reports_what_it_runs(policy):
    from qnn.models.quantum import QNNCore

    assert policy.kind == "qnn" and isinstance(policy.loaded.router.core, QNNCore)
    assert policy.k == policy.loaded.router.k == 3
    counted = sum(tensor.numel() for tensor in policy.loaded.router.parameters())  # the loaded model's own
    assert f" {counted} parameters" in policy.description and "trained on abilene" in policy.description


def test_optimal_policy_is_at_least_as_good_as_the_learned_one(policy):
    from controller.demand_policies import OptimalPolicy

    graph = abilene_graph()
    optimal = OptimalPolicy(time_limit=20.0)
    for tm in gravity_traffic(load_abilene(), 2, seed=6):
        rates = {f: tm[f] for f in FLOWS}
        best = optimal.decide(graph, FLOWS, {}, rates)
        assert all(path_is_intact(graph, p) for p in best.values()) and len(best) == len(FLOWS)
        assert mlu(graph, best, tm) <= mlu(graph, policy.decide(graph, FLOWS, {}, rates), tm) * (1 + 1e-3)


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
    tm = gravity_traffic(load_abilene(), 1, seed=5)[0]
    rates = {f: tm[f] for f in FLOWS}
    first_hosts = {f: pair for f, pair in FLOWS.items() if max(f) < 6}
    policy = LearnedPolicy("qnn-abilene-single", keep_margin=0.0)
    policy.decide(graph, first_hosts, {}, rates)
    decided = policy.decide(graph, FLOWS, {}, rates)  # six more hosts joined
    assert searched == [30, 132 - 30]
    # the same paths as a policy that searched every pair afresh
    assert decided == LearnedPolicy("qnn-abilene-single", keep_margin=0.0).decide(graph, FLOWS, {}, rates)
    graph.remove_edges_from([(5, 6), (6, 5)])
    policy.decide(graph, FLOWS, {}, rates)
    assert searched[-1] == 132  # another topology: every pair again

