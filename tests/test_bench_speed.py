"""The decision-time benchmark (qnn.bench.speed): what it times is the real decision on the
network and flows it names."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from tests.qnn_helpers import tiny_network
from topologies.abilene import load_abilene


def test_replicated_flows_cycle_through_the_base_demands_and_their_tunnels():
    from qnn.bench.speed import replicated_pathset
    from qnn.paths import k_shortest_paths

    base = k_shortest_paths(tiny_network(), 3, weight="hops", demands=[(0, 3), (2, 5), (4, 1)])
    flows = replicated_pathset(base, 7)
    assert flows.n_demands == 7 and flows.network is base.network
    for i, j in enumerate([0, 1, 2, 0, 1, 2, 0]):
        assert flows.demands[i] == base.demands[j]
        np.testing.assert_array_equal(flows.mask[i], base.mask[j])
        assert [p for p, m in zip(flows.paths[i], flows.mask[i]) if m] == \
            [p for p, m in zip(base.paths[j], base.mask[j]) if m]


def test_measure_times_each_flow_count_and_the_lp_on_that_many_flows(monkeypatch):
    import qnn.lp
    from qnn.bench.speed import format_rows, measure
    from qnn.models.checkpoint import load_checkpoint
    from qnn.paths import all_pairs, k_shortest_paths

    solved = []
    real_lp = qnn.lp.path_lp

    def recording_lp(pathset, demand):
        solved.append((pathset.n_demands, np.shape(demand)))
        return real_lp(pathset, demand)

    monkeypatch.setattr(qnn.lp, "path_lp", recording_lp)
    router, _ = load_checkpoint("qnn-abilene-single")
    network = tiny_network()
    base = k_shortest_paths(network, router.k, weight="hops", demands=all_pairs(network))
    rows = measure(router, None, base, [12, 45], repeat=1, lp_max_flows=20, device_path_max=20)
    assert [row["flows"] for row in rows] == [12, 45]
    assert {"qnn_ms", "qnn_gate_by_gate_ms", "lp_ms"} <= set(rows[0]) and "mlp_ms" not in rows[0]
    assert "qnn_ms" in rows[1] and not {"qnn_gate_by_gate_ms", "lp_ms", "mlp_ms"} & set(rows[1])
    assert solved and set(solved) == {(12, (12,))}  # warm-up and timed runs: all on the 12 flows
    assert format_rows(rows).splitlines()[3].count("—") == 3  # 45 flows: no gate-by-gate, MLP, LP


@pytest.fixture(scope="module")
def abilene():
    return load_abilene()


def test_host_join_times_time_the_controllers_decisions_on_the_network_given(abilene, monkeypatch):
    from controller.demand_policies import LearnedPolicy
    from qnn.bench.speed import host_join_times

    calls = []  # (policy, flows, rates, decision) for every decide the benchmark makes
    real_decide = LearnedPolicy.decide

    def recording_decide(self, graph, flows, current=None, demands_bps=None):
        decision = real_decide(self, graph, flows, current, demands_bps)
        calls.append((self, dict(flows), dict(demands_bps), decision))
        return decision

    monkeypatch.setattr(LearnedPolicy, "decide", recording_decide)
    timing = host_join_times("qnn-abilene-single", abilene, repeat=2)
    assert (timing["switches"], timing["pairs"], timing["new_pairs"]) == (12, 12 * 11, 2 * 11)

    everyone = {(a, b) for a in range(12) for b in range(12) if a != b}
    by_policy: dict[int, list[set]] = {}
    for policy, flows, _, _ in calls:
        by_policy.setdefault(id(policy), []).append(set(flows))
    histories = sorted(by_policy.values(), key=len)
    without_last = {pair for pair in everyone if 11 not in pair}
    # cold: two fresh policies deciding for everyone; join: two that first saw the hosts without
    # switch 11; steady: one policy, its warm decision, the timer's warm-up and two timed runs
    assert histories == [[everyone]] * 2 + [[without_last, everyone]] * 2 + [[everyone] * 4]

    # each decision is the controller's own on Abilene as the test builds it from its links
    graph = nx.DiGraph()
    for (u, v), capacity, weight in zip(abilene.links, abilene.capacity, abilene.weight):
        graph.add_edge(u, v, capacity=float(capacity), ospf=float(weight))
    _, flows, rates, decision = calls[-1]
    assert set(rates) == everyone and min(rates.values()) > 0
    assert decision == LearnedPolicy("qnn-abilene-single").decide(graph, flows, {}, rates)
    for (src, dst), split in decision.items():
        for path, _ in split:
            assert path[0] == src and path[-1] == dst and len(set(path)) == len(path)
            assert all((u, v) in abilene.link_index for u, v in zip(path, path[1:]))
