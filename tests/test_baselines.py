"""Baselines: hand-checked SPF/ECMP, and the LPs against brute force on small random instances."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qnn.baselines import ecmp_routing, shortest_path_routing
from qnn.loads import link_loads, mlu
from qnn.lp import mcf_lp, path_lp, path_lp_optima, single_path_milp
from qnn.network import Network
from qnn.paths import k_shortest_paths
from tests.test_paths import square


def diamond():
    """0 -> {1, 2} -> 3 with equal weights, plus a long way 0-4-5-3."""
    und = [(0, 1), (1, 3), (0, 2), (2, 3), (0, 4), (4, 5), (5, 3)]
    links = [e for u, v in und for e in ((u, v), (v, u))]
    return Network("diamond", list(range(6)), links, [10.0] * len(links), [1.0] * len(links))


def test_spf_by_weight_and_by_hops():
    net = square()
    w = shortest_path_routing(net, [(2, 1)], "weight").fractions.toarray()[0]
    assert w[net.link_index[(2, 0)]] == 1 and w[net.link_index[(0, 1)]] == 1 and w.sum() == 2


def test_ecmp_splits_equally_and_conserves_flow():
    net = diamond()
    r = ecmp_routing(net, [(0, 3), (3, 0)])
    f = r.fractions.toarray()
    li = net.link_index
    for link in [(0, 1), (1, 3), (0, 2), (2, 3)]:
        assert f[0, li[link]] == pytest.approx(0.5)
    assert f[0, li[(0, 4)]] == 0  # 3 hops: not a shortest path
    for d, (s, t) in enumerate([(0, 3), (3, 0)]):
        out_s = sum(f[d, i] for i, (u, _) in enumerate(net.links) if u == s)
        in_t = sum(f[d, i] for i, (_, v) in enumerate(net.links) if v == t)
        assert out_s == pytest.approx(1) and in_t == pytest.approx(1)
    np.testing.assert_allclose(r.expected_hops(), [2, 2])
    np.testing.assert_allclose(r.loads(np.array([4.0, 0.0]))[0, li[(0, 1)]], 2.0)


def random_instance(seed: int, n_nodes: int, n_demands: int, k: int):
    """A ring plus random chords, random capacities and weights, random demands."""
    rng = np.random.default_rng(seed)
    und = {(i, (i + 1) % n_nodes) for i in range(n_nodes)}
    for _ in range(n_nodes):
        u, v = rng.choice(n_nodes, 2, replace=False)
        if (v, u) not in und:
            und.add((int(u), int(v)))
    links = [e for u, v in sorted(und) for e in ((u, v), (v, u))]
    net = Network("rand", list(range(n_nodes)), links, rng.uniform(1, 10, len(links)),
                  rng.integers(1, 5, len(links)))
    pairs = [p for p in itertools.permutations(range(n_nodes), 2)]
    chosen = [pairs[i] for i in rng.choice(len(pairs), n_demands, replace=False)]
    ps = k_shortest_paths(net, k, demands=chosen)
    demand = rng.uniform(0.5, 5, n_demands)
    return net, ps, demand


instances = st.builds(random_instance, st.integers(0, 10_000), st.integers(4, 6), st.integers(1, 3),
                      st.just(2))


@settings(max_examples=30, deadline=None)
@given(instances)
def test_path_lp_matches_brute_force_grid(instance):
    net, ps, demand = instance
    grid_steps = 40
    fractions = np.linspace(0, 1, grid_steps + 1)
    choices = [fractions if ps.mask[d, 1] else np.array([1.0]) for d in range(ps.n_demands)]
    combos = np.array(list(itertools.product(*choices)))  # share on path 0, per demand
    splits = np.stack([combos, 1 - combos], axis=-1)
    grid_best = mlu(link_loads(ps, demand, splits).reshape(len(combos), -1), net.capacity).min()
    opt = path_lp(ps, demand)
    realised = mlu(link_loads(ps, demand, opt.split), net.capacity)[0]
    assert realised == pytest.approx(opt.mlu, rel=1e-7)
    np.testing.assert_allclose(opt.split.sum(axis=1), 1.0)
    assert np.all(opt.split[~ps.mask] == 0)
    assert opt.mlu <= grid_best + 1e-9  # the LP is at least as good as every grid point
    # ...and the nearest grid point is within the rounding error of the optimum
    slack = (demand / (2 * grid_steps)).sum() / net.capacity.min()
    assert grid_best <= opt.mlu + slack
    assert mcf_lp(net, _tm(net, ps, demand)).mlu <= opt.mlu * (1 + 1e-7)  # all paths: a lower bound


def _tm(net, ps, demand):
    tm = np.zeros((net.n_nodes, net.n_nodes))
    for (s, t), v in zip(ps.demands, demand):
        tm[s, t] = v
    return tm


@settings(max_examples=30, deadline=None)
@given(st.builds(random_instance, st.integers(0, 10_000), st.integers(4, 6), st.integers(1, 4), st.just(3)))
def test_single_path_milp_matches_enumeration(instance):
    net, ps, demand = instance
    options = [np.flatnonzero(ps.mask[d]) for d in range(ps.n_demands)]
    best = min(
        mlu(link_loads(ps, demand, np.eye(ps.k)[list(choice)]), net.capacity)[0]
        for choice in itertools.product(*options)
    )
    result = single_path_milp(ps, demand, time_limit=None, mip_rel_gap=0.0)
    assert result.mlu == pytest.approx(best, rel=1e-7)
    assert set(np.unique(result.split)) <= {0.0, 1.0}
    assert path_lp(ps, demand).mlu <= result.mlu * (1 + 1e-7)


@pytest.mark.parametrize("unit", [1e-9, 1e-6, 1.0, 1e6, 1e12])
def test_lp_optima_do_not_depend_on_the_traffic_units(unit):
    from topologies.abilene import load_abilene
    from topologies.traffic import gravity_traffic

    net = load_abilene()
    ps = k_shortest_paths(net, 3, weight="weight")
    demand = ps.demand_vector(gravity_traffic(net, 2, seed=4))
    reference = path_lp(ps, demand[1]).mlu
    assert path_lp(ps, demand[1] * unit).mlu == pytest.approx(reference * unit, rel=1e-6)
    np.testing.assert_allclose(path_lp_optima(ps, demand * unit),
                               [path_lp(ps, d).mlu * unit for d in demand], rtol=1e-6)
    assert single_path_milp(ps, demand[1] * unit, time_limit=None).mlu >= reference * unit * (1 - 1e-6)
    from qnn.lp import robust_path_lp

    robust = robust_path_lp(ps, demand * unit).mlu
    assert robust == pytest.approx(robust_path_lp(ps, demand).mlu * unit, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(st.builds(random_instance, st.integers(0, 10_000), st.integers(4, 7), st.integers(2, 8), st.just(3)),
       st.integers(0, 10_000))
def test_the_lp_optima_of_a_run_of_matrices_are_each_matrix_s_own(instance, seed):
    net, ps, demand = instance
    rng = np.random.default_rng(seed)
    demands = demand * rng.uniform(0.05, 20, size=(6, ps.n_demands))  # far apart: the warm start must move
    demands[3] = 0.0  # a matrix without traffic
    demands[4] *= 1e6  # and one in other units
    expected = [path_lp(ps, d).mlu for d in demands]
    np.testing.assert_allclose(path_lp_optima(ps, demands), expected, rtol=1e-7, atol=0)


def test_lp_optima_are_solved_one_by_one_without_scipy_s_highs_binding(monkeypatch):
    import qnn.lp

    net, ps, demand = random_instance(3, 6, 8, 3)
    demands = demand * np.random.default_rng(1).uniform(0.5, 2, size=(4, ps.n_demands))
    monkeypatch.setattr(qnn.lp._WarmPathLP, "create", classmethod(lambda cls, prob: None))
    np.testing.assert_array_equal(path_lp_optima(ps, demands), [path_lp(ps, d).mlu for d in demands])


def test_a_damaged_lp_cache_is_solved_again_and_replaced(tmp_path):
    from qnn.models.dataset import _lp_optimum

    net = diamond()
    ps = k_shortest_paths(net, 2, weight="weight")
    demands = np.random.default_rng(0).uniform(1, 5, size=(3, ps.n_demands))
    cache = tmp_path / "lpopt.npy"
    expected = _lp_optimum(ps, demands, cache)
    cache.write_bytes(cache.read_bytes()[:20])  # an interrupted write
    np.testing.assert_allclose(_lp_optimum(ps, demands, cache), expected)
    np.testing.assert_allclose(np.load(cache), expected)


def test_mcf_finds_paths_outside_the_candidates():
    net = diamond()
    ps = k_shortest_paths(net, 1, weight="hops", demands=[(0, 3)])
    tm = np.zeros((6, 6))
    tm[0, 3] = 30.0
    assert path_lp(ps, np.array([30.0])).mlu == pytest.approx(3.0)  # one 2-hop path, capacity 10
    assert mcf_lp(net, tm).mlu == pytest.approx(1.0)  # three disjoint paths share 30


@settings(max_examples=25, deadline=None)
@given(instances, st.integers(0, 1000))
def test_robust_lp_hedges_between_its_matrices(instance, seed):
    from qnn.lp import robust_path_lp

    net, ps, demand = instance
    other = demand * np.random.default_rng(seed).uniform(0.2, 3.0, demand.shape)
    alone = path_lp(ps, demand)
    # one matrix, scaled by its own optimum: the LP itself, ratio 1
    assert robust_path_lp(ps, demand[None], np.array([alone.mlu])).mlu == pytest.approx(1.0, rel=1e-6)
    scale = np.array([alone.mlu, path_lp(ps, other).mlu])
    hedged = robust_path_lp(ps, np.vstack([demand, other]), scale)
    worst = lambda split: max(mlu(link_loads(ps, d, split)[0], net.capacity) / w  # noqa: E731
                              for d, w in zip((demand, other), scale))
    assert hedged.mlu == pytest.approx(worst(hedged.split), rel=1e-6)
    assert hedged.mlu >= 1 - 1e-6  # cannot beat either matrix's own optimum
    # never worse than committing to either matrix's own optimal split
    assert hedged.mlu <= min(worst(alone.split), worst(path_lp(ps, other).split)) + 1e-6


def test_robust_lp_refuses_bad_scales():
    from qnn.lp import robust_path_lp

    net, ps, demand = random_instance(3, 5, 3, 2)
    with pytest.raises(ValueError, match="one positive value per matrix"):
        robust_path_lp(ps, np.vstack([demand, demand]), np.array([1.0]))
