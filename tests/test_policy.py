"""ShortestPathPolicy: one shortest path per flow, stable while it stays shortest; make_policy."""
from __future__ import annotations

import logging

import networkx as nx
import pytest

from controller.policy import ShortestPathPolicy, make_policy, path_cost, path_is_intact
from controller.settings import Settings


def ring(n):
    graph = nx.DiGraph()
    for i in range(1, n + 1):
        j = i % n + 1
        graph.add_edge(i, j, utilisation=0.0)
        graph.add_edge(j, i, utilisation=0.0)
    return graph


def test_shortest_by_hops():
    decided = ShortestPathPolicy().decide(ring(6), {"f": (1, 3), "g": (1, 5), "h": (2, 2)})
    assert decided["f"] == (1, 2, 3)
    assert decided["g"] == (1, 6, 5)
    assert decided["h"] == (2,)


def test_keeps_an_installed_path_that_is_still_shortest():
    graph = ring(4)   # 1 to 3: (1, 2, 3) and (1, 4, 3) tie
    policy = ShortestPathPolicy()
    first = policy.decide(graph, {"f": (1, 3)})["f"]
    other = (1, 4, 3) if first == (1, 2, 3) else (1, 2, 3)
    assert policy.decide(graph, {"f": (1, 3)}, {"f": other})["f"] == other
    assert policy.decide(graph, {"f": (1, 3)}, {"f": list(other)})["f"] == other


def test_replaces_an_installed_path_that_is_no_longer_shortest():
    graph = ring(6)
    decided = ShortestPathPolicy().decide(graph, {"f": (1, 3)}, {"f": (1, 6, 5, 4, 3)})
    assert decided["f"] == (1, 2, 3)


def test_moves_a_flow_whose_path_lost_a_link():
    graph = ring(5)
    graph.remove_edge(2, 3)
    decided = ShortestPathPolicy().decide(graph, {"f": (1, 3)}, {"f": (1, 2, 3)})
    assert decided["f"] == (1, 5, 4, 3)


def test_ignores_an_installed_path_with_other_endpoints():
    graph = ring(6)
    decided = ShortestPathPolicy().decide(graph, {"f": (1, 3)}, {"f": (2, 3)})
    assert decided["f"] == (1, 2, 3)


def test_weight_attribute_picks_the_lighter_path():
    graph = ring(4)
    graph[1][2]["congestion"] = 11.0
    for a, b in graph.edges:
        graph[a][b].setdefault("congestion", 1.0)
    policy = ShortestPathPolicy(weight="congestion")
    assert policy.decide(graph, {"f": (1, 3)})["f"] == (1, 4, 3)
    # and leaves a path that became heavier than the alternative
    assert policy.decide(graph, {"f": (1, 3)}, {"f": (1, 2, 3)})["f"] == (1, 4, 3)
    # hop count ignores the attribute
    assert path_cost(graph, (1, 2, 3), None) == 2.0
    assert path_cost(graph, (1, 2, 3), "congestion") == 12.0


def test_unreachable_or_unknown_endpoints_get_no_path():
    graph = ring(4)
    graph.add_node(9)
    decided = ShortestPathPolicy().decide(graph, {"a": (1, 9), "b": (1, 42), "c": (42, 1),
                                                  "d": (1, 2)})
    assert decided == {"d": (1, 2)}


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
    flows = {(a, b): (a, b) for a in graph for b in graph}
    decided = ShortestPathPolicy().decide(graph, flows)
    assert set(decided) == set(flows)
    for (a, b), path in decided.items():
        assert path[0] == a and path[-1] == b and path_is_intact(graph, path)
        assert len(path) - 1 == nx.shortest_path_length(graph, a, b)


def test_keep_intact_else_moves_only_new_and_broken_flows():
    from controller.policy import keep_intact_else

    graph = ring(5)
    current = {"kept": (1, 5, 4, 3), "broken": (2, 1, 5), "other-ends": (1, 2)}
    graph.remove_edge(2, 1)
    flows = {"kept": (1, 3), "broken": (2, 5), "other-ends": (1, 3), "new": (4, 5)}
    decided = keep_intact_else(ShortestPathPolicy(), graph, flows, current)
    assert decided["kept"] == (1, 5, 4, 3)          # long, but intact: not moved
    assert decided["broken"] == (2, 3, 4, 5)         # its link is gone: rerouted
    assert decided["other-ends"] == (1, 2, 3)        # installed path has other endpoints
    assert decided["new"] == (4, 5)


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
        assert policy.decide(weighted_square(attribute), {"f": (1, 3)})["f"] == (1, 4, 3)


def test_make_policy_bounds_the_milp_by_half_the_reoptimisation_interval():
    policy, fallback, problem = make_policy(Settings(policy="milp", reoptimize_interval=1.0),
                                            logging.getLogger("test"))
    assert (policy.name, policy.time_limit, problem) == ("milp", 0.5, "")
    assert fallback.name == "shortest-path"


def test_make_policy_falls_back_to_shortest_paths_when_the_checkpoint_is_missing(tmp_path, caplog):
    missing = tmp_path / "missing.pt"
    with caplog.at_level(logging.ERROR):
        policy, fallback, problem = make_policy(Settings(policy="qnn", checkpoint=str(missing)),
                                                logging.getLogger("test"))
    assert policy is fallback and policy.name == "shortest-path"
    assert problem.startswith("policy qnn unavailable") and str(missing) in problem
    assert [r.getMessage() for r in caplog.records] == [f"{problem}; routing by shortest path instead"]
