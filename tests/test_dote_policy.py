"""policy = dote / figret in the controller: the decision on a measured demand history is the
bench method's on the same matrices (the bench is the reference: same checkpoint, same inputs),
the history is bounded and padded with its oldest entry, broken paths and foreign switches are
left to the fallback, and every misconfiguration is refused in words."""
from __future__ import annotations

import itertools
import json
import logging

import networkx as nx
import numpy as np
import pytest

from controller.policy import make_policy
from controller.policy_switch import ControlError, switched_settings
from controller.settings import Settings, SettingsError, default_checkpoint, parse_settings
from topologies.catalog import abilene_links

LOG = logging.getLogger("test-dote-policy")
N_ABILENE = 12


def abilene_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for src, dst, capacity, ospf in abilene_links(1e-3):
        graph.add_edge(src, dst, capacity=capacity, ospf=ospf, utilisation=0.0, load=0.0)
    return graph


def all_pairs() -> list[tuple[int, int]]:
    return [(s, t) for s in range(1, N_ABILENE + 1) for t in range(1, N_ABILENE + 1) if s != t]


def matrices(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random Abilene traffic matrices (node indices), heavy-tailed as real ones are."""
    rng = np.random.default_rng(seed)
    tms = rng.lognormal(mean=0.0, sigma=1.5, size=(n, N_ABILENE, N_ABILENE)) * 1e6
    for tm in tms:
        np.fill_diagonal(tm, 0.0)
    return tms


def measured(tm: np.ndarray) -> dict[tuple[int, int], float]:
    """The demand the controller measures for a matrix: switch pair (s + 1, t + 1) carries tm[s, t]."""
    return {(s, t): float(tm[s - 1, t - 1]) for s, t in all_pairs()}


def dote_policy(kind: str = "dote", **options):
    from controller.demand_policies import TopologySpecificPolicy

    exact = {"keep_margin": 0.0, "min_gain": 0.0, "min_share": 0.0}  # the model's ratios, unfiltered
    return TopologySpecificPolicy(f"{kind}-abilene", "abilene", kind=kind, **{**exact, **options})


def bench_method(kind: str):
    from qnn.bench.learned_methods import DoteRouting
    from qnn.problems import candidate_pathset, load_network

    network = load_network("abilene")
    pathset, _ = candidate_pathset("abilene", network, 3)
    return DoteRouting(pathset, network, {}, kind), pathset


def bench_split(method, pathset, tms: np.ndarray) -> dict[tuple[int, int], dict[tuple[int, ...], float]]:
    """The bench method's split on the history ``tms`` (oldest first), per switch pair and path."""
    from types import SimpleNamespace

    ratios = method.decide(SimpleNamespace(history_tms=tms, pathset=pathset))
    return {(s + 1, t + 1): {tuple(n + 1 for n in path): float(ratios[row, j])
                             for j, path in enumerate(paths) if path}
            for row, ((s, t), paths) in enumerate(zip(pathset.demands, pathset.paths))}


def as_weights(splits) -> dict[tuple[int, int], dict[tuple[int, ...], float]]:
    return {pair: {tuple(path): weight for path, weight in split} for pair, split in splits.items()}


def assert_same_splits(got, want, tol=1e-6):
    assert set(got) == set(want)
    for pair in want:
        wanted = {path: w for path, w in want[pair].items() if w > 0}
        assert set(got[pair]) == set(wanted), pair
        for path, weight in wanted.items():
            assert got[pair][path] == pytest.approx(weight, abs=tol), (pair, path)


@pytest.mark.parametrize("kind", ["dote", "figret"])
def test_each_decision_is_the_bench_methods_on_the_same_history(kind):
    policy = dote_policy(kind)
    method, pathset = bench_method(kind)
    graph, tms = abilene_graph(), matrices(16)
    # fewer than H seen (the bench pads, the policy must too), exactly H, and past H (bounded)
    for t, tm in enumerate(tms):
        decided = policy.decide(graph, all_pairs(), {}, measured(tm))
        if t in (0, 4, 11, 15):
            assert_same_splits(as_weights(decided), bench_split(method, pathset, tms[: t + 1]))
    assert len(policy.recent) == policy.history == 12


def test_until_h_are_seen_the_oldest_demand_stands_in_for_the_missing_ones():
    policy = dote_policy()
    first, second = matrices(2, seed=3)
    policy.decide(abilene_graph(), all_pairs(), {}, measured(first))
    after_two = as_weights(policy.decide(abilene_graph(), all_pairs(), {}, measured(second)))
    padded = dote_policy()  # fed the padded history by hand: eleven times the first, then the second
    for tm in [first] * 11 + [second]:
        by_hand = as_weights(padded.decide(abilene_graph(), all_pairs(), {}, measured(tm)))
    assert_same_splits(after_two, by_hand, tol=0.0)
    # an unmeasured pair counts as no demand, as an empty matrix entry does in the bench
    method, pathset = bench_method("dote")
    quiet = first.copy()
    quiet[0, 1] = 0.0
    partial = measured(first)
    del partial[(1, 2)]
    assert_same_splits(as_weights(dote_policy().decide(abilene_graph(), all_pairs(), {}, partial)),
                       bench_split(method, pathset, quiet[None]))


def test_with_a_history_period_an_entry_is_a_periods_mean_and_a_decision_sees_completed_ones():
    """Decisions every 2 s, 10 s periods: the history is the mean of each completed period's
    measured demands (computed here with numpy, the bench method fed them as matrices); within
    the first period the period's own mean so far stands in; a gap of several periods closes
    the one before it without inventing entries."""
    period, step = 10.0, 2.0
    policy = dote_policy(history_period=period)
    method, pathset = bench_method("dote")
    graph, tms = abilene_graph(), matrices(4, seed=5)
    given: dict[int, list[np.ndarray]] = {}
    decisions = []
    for n in range(15):  # t = 0, 2, ... 28: periods 0, 1, 2
        now = 1000.0 + n * step
        index = int(n * step // period)
        tm = tms[index] * (1.0 + 0.3 * (n % 5))  # each measurement differs within its period
        given.setdefault(index, []).append(tm)
        decisions.append((index, n, as_weights(policy.decide(graph, all_pairs(), {}, measured(tm), now=now))))
    means = {index: np.mean(seen, axis=0) for index, seen in given.items()}
    for index, n, decided in decisions:
        if index == 0:
            want = bench_split(method, pathset, np.mean(given[0][: n + 1], axis=0)[None])
        else:
            want = bench_split(method, pathset, np.array([means[i] for i in range(index)]))
        assert_same_splits(decided, want, tol=1e-5)
    assert len(policy.recent) == 2  # periods 0 and 1 completed; 2 is under way
    policy.decide(graph, all_pairs(), {}, measured(tms[3]), now=1000.0 + 75.0)  # periods 3-6 empty
    assert len(policy.recent) == 3
    assert np.allclose(policy.recent[-1], policy.demand_vector(measured(means[2])))
    # without the time a decision adds its demand as one entry, as with no period
    untimed = dote_policy(history_period=period)
    for tm in tms[:3]:
        untimed.decide(graph, all_pairs(), {}, measured(tm))
    assert len(untimed.recent) == 3


def test_a_negative_history_period_is_refused_in_words():
    with pytest.raises(SettingsError, match="history_period"):
        parse_settings({"history_period": "-5"})
    policy, _, _ = make_policy(Settings(policy="dote", topology="abilene", history_period=300.0), LOG)
    assert policy.history_period == 300.0 and "means of 300 s periods" in policy.description


def test_a_broken_path_is_dropped_and_its_share_spread_over_the_rest_in_proportion():
    policy, graph, tm = dote_policy(), abilene_graph(), matrices(1)[0]
    intact = as_weights(dote_policy().decide(graph, all_pairs(), {}, measured(tm)))
    cut = (1, 2) if graph.has_edge(1, 2) else next(iter(graph.edges))
    graph.remove_edge(*cut)
    graph.remove_edge(*cut[::-1])
    decided = as_weights(policy.decide(graph, all_pairs(), {}, measured(tm)))

    def crosses(path):
        return any({a, b} == set(cut) for a, b in zip(path, path[1:]))

    hit = [pair for pair, weights in intact.items() if any(crosses(path) for path in weights)]
    assert hit
    for pair in hit:
        left = {path: w for path, w in intact[pair].items() if not crosses(path)}
        if not left:  # no candidate survives: left to the fallback
            assert pair not in decided
            continue
        total = sum(left.values())
        assert_same_splits({pair: decided[pair]}, {pair: {p: w / total for p, w in left.items()}})
    for pair in set(intact) - set(hit):
        assert_same_splits({pair: decided[pair]}, {pair: intact[pair]})


def test_a_switch_outside_the_topology_is_left_to_the_fallback():
    graph = abilene_graph()
    graph.add_edge(1, 99)
    graph.add_edge(99, 1)
    decided = dote_policy().decide(graph, [(1, 99), (99, 1), (1, 2)], {}, {})
    assert set(decided) == {(1, 2)}


def test_the_controller_builds_it_from_the_settings_and_names_it_dote():
    policy, fallback, problem = make_policy(Settings(policy="dote", topology="abilene"), LOG)
    assert problem == "" and policy.name == policy.kind == "dote" and policy is not fallback
    assert policy.split and "trained on abilene only" in policy.description
    # the default checkpoint is the configured network's own
    assert policy.loaded.meta["topology"]["name"] == "abilene"
    assert policy.loaded.meta["model"]["kind"] == "dote"
    splits = policy.decide(abilene_graph(), all_pairs(), {}, measured(matrices(1)[0]))
    # every pair's paths are among its k = 3 shortest loop-free paths by OSPF weight, the rule
    # the checkpoint records, found here independently on the switch graph
    graph = abilene_graph()
    for (src, dst), split in splits.items():
        shortest = nx.shortest_simple_paths(graph, src, dst, weight="ospf")
        first_three = {tuple(path) for path in itertools.islice(shortest, 3)}
        assert {tuple(path) for path, _ in split} <= first_three
        assert sum(w for _, w in split) == pytest.approx(1.0)


@pytest.mark.parametrize("settings, words", [
    (Settings(policy="dote"), "needs topology"),
    (Settings(policy="dote", topology="abilene", checkpoint="dote-geant"), "topology-specific"),
    (Settings(policy="figret", topology="abilene", checkpoint="dote-abilene"), "holds a 'dote' model"),
    (Settings(policy="dote", topology="abilene", checkpoint="qnn-abilene"), "not a DOTE/FIGRET checkpoint"),
])
def test_an_unusable_configuration_is_named_and_shortest_paths_keep_forwarding(settings, words):
    policy, fallback, problem = make_policy(settings, LOG)
    assert policy is fallback and policy.name == "shortest-path"
    assert problem.startswith(f"policy {settings.policy} unavailable") and words in problem


def _abilene_tunnels(tmp_path, swap: bool = False) -> str:
    """A tunnels file of the checkpoint's own paths (node indices); ``swap``: the first pair with
    two paths has them in the other order."""
    from qnn.problems import candidate_pathset, load_network

    pathset, _ = candidate_pathset("abilene", load_network("abilene"), 3)
    path = tmp_path / ("swapped.txt" if swap else "same.txt")
    lines = []
    for (s, t), paths in zip(pathset.demands, pathset.paths):
        paths = [p for p in paths if p]
        if swap and len(paths) >= 2:
            paths[0], paths[1], swap = paths[1], paths[0], False
        lines.append(f"{s} {t}:" + ",".join("-".join(map(str, p)) for p in paths))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_tunnels_must_be_the_paths_the_checkpoint_was_trained_on(tmp_path):
    same = Settings(policy="dote", topology="abilene", tunnels=_abilene_tunnels(tmp_path))
    policy, _, problem = make_policy(same, LOG)
    assert problem == "" and policy.name == "dote"
    other = Settings(policy="dote", topology="abilene", tunnels=_abilene_tunnels(tmp_path, swap=True))
    policy, fallback, problem = make_policy(other, LOG)
    assert policy is fallback and "other candidate paths" in problem


def test_settings_refuse_dote_without_the_network_it_was_trained_for(tmp_path):
    with pytest.raises(SettingsError, match=r"policy = dote needs topology = abilene \| geant"):
        parse_settings({"policy": "dote"})
    ring = tmp_path / "ring.json"
    ring.write_text(json.dumps({"nodes": [{"id": n} for n in range(4)],
                                "links": [{"source": a, "target": (a + 1) % 4, "capacity": 10e9}
                                          for a in range(4)]}))
    # no shipped checkpoint routes a network of one's own: one trained on it must be named
    with pytest.raises(SettingsError, match="needs checkpoint = <a figret checkpoint trained on that"):
        parse_settings({"policy": "figret", "topology": str(ring)})
    given = parse_settings({"policy": "figret", "topology": str(ring), "checkpoint": "mine.pt"})
    assert default_checkpoint(given) == "mine.pt"


def test_settings_take_dote_on_a_named_network_with_its_own_default_checkpoint():
    assert default_checkpoint(parse_settings({"policy": "dote", "topology": "abilene"})) == "dote-abilene"
    assert default_checkpoint(parse_settings({"policy": "figret", "topology": "geant"})) == "figret-geant"
    given = parse_settings({"policy": "figret", "topology": "abilene", "checkpoint": "x.pt"})
    assert default_checkpoint(given) == "x.pt"


def test_a_run_time_switch_to_dote_follows_the_same_rules():
    on_abilene = Settings(topology="abilene", policy="qnn", checkpoint="qnn-abilene")
    switched = switched_settings({"policy": "dote"}, on_abilene)
    # a qnn checkpoint is no dote one: the default dote-abilene is used instead
    assert (switched.policy, switched.checkpoint) == ("dote", "")
    assert default_checkpoint(switched) == "dote-abilene"
    with pytest.raises(ControlError, match="policy = figret needs topology"):
        switched_settings({"policy": "figret"}, Settings())


def test_one_path_per_pair_takes_the_largest_ratio_and_min_gain_keeps_a_routing_not_much_worse():
    graph, (first, second) = abilene_graph(), matrices(2, seed=5)
    ratios = as_weights(dote_policy().decide(graph, all_pairs(), {}, measured(first)))
    single = dote_policy(split=False).decide(graph, all_pairs(), {}, measured(first))
    assert {pair: split[0][0] for pair, split in single.items()} == \
        {pair: max(weights, key=weights.get) for pair, weights in ratios.items()}
    # predicted MLU of what is installed within 100% of the new decision's: it stays
    steady = dote_policy(min_gain=1.0)
    installed = steady.decide(graph, all_pairs(), {}, measured(first))
    assert steady.decide(graph, all_pairs(), installed, measured(second)) == installed
    fresh = dote_policy()  # without it the second decision moves pairs
    fresh.decide(graph, all_pairs(), {}, measured(first))
    assert fresh.decide(graph, all_pairs(), installed, measured(second)) != installed
