"""Candidate paths and their incidence on hand-made networks."""
import numpy as np
import pytest

from qnn.network import Network
from qnn.paths import PathSet, all_pairs, from_tunnels, k_shortest_paths


def square():
    """0-1-3 (weights 1+1) and 0-2-3 (weights 1+5), both directions; 0-3 has no direct link."""
    und = [(0, 1, 1), (1, 3, 1), (0, 2, 1), (2, 3, 5)]
    links, weight = [], []
    for u, v, w in und:
        links += [(u, v), (v, u)]
        weight += [w, w]
    return Network("square", [0, 1, 2, 3], links, [10.0] * len(links), weight)


def test_k_shortest_by_weight_orders_paths_and_pads():
    net = square()
    ps = k_shortest_paths(net, 3, demands=[(0, 3), (0, 1)])
    assert ps.paths[0][:2] == [(0, 1, 3), (0, 2, 3)]
    assert ps.paths[0][2] == ()  # only two simple paths exist
    assert ps.mask.tolist() == [[True, True, False], [True, True, False]]
    assert ps.paths[1][:2] == [(0, 1), (0, 2, 3, 1)]
    inc = ps.incidence.toarray()
    assert inc.shape == (2 * 3, net.n_links)
    expected = np.zeros(net.n_links)
    expected[[net.link_index[(0, 1)], net.link_index[(1, 3)]]] = 1
    np.testing.assert_array_equal(inc[0], expected)
    assert not inc[2].any() and not inc[5].any()  # padded slots are zero rows
    np.testing.assert_array_equal(ps.hops, [[2, 2, 0], [1, 3, 0]])
    np.testing.assert_array_equal(ps.shortest_hops, [2, 1])


def test_k_shortest_by_hops_and_disjoint():
    net = square()
    by_hops = k_shortest_paths(net, 1, weight="hops", demands=[(2, 1)])
    assert by_hops.paths[0] == [(2, 0, 1)]  # 2 hops, although 2-3-1 is also 2 hops, weight ignored
    disjoint = k_shortest_paths(net, 3, disjoint=True, demands=[(0, 3)])
    links = [set(net.path_links(p)) for p in disjoint.paths[0] if p]
    assert len(links) == 2 and not (links[0] & links[1])


def test_all_pairs_default_and_demand_vector():
    net = square()
    ps = k_shortest_paths(net, 2)
    assert ps.demands == all_pairs(net) and ps.n_demands == 12
    tms = np.arange(2 * 16, dtype=float).reshape(2, 4, 4)
    dv = ps.demand_vector(tms)
    assert dv.shape == (2, 12)
    for d, (s, t) in enumerate(ps.demands):
        assert dv[1, d] == tms[1, s, t]
    np.testing.assert_array_equal(ps.demand_vector(tms[0]), dv[0])
    np.testing.assert_allclose(ps.uniform_split().sum(axis=1), 1.0)


def test_from_tunnels_and_validation():
    net = square()
    ps = from_tunnels(net, {(0, 3): [(0, 1, 3), (0, 2, 3)], (3, 0): [(3, 1, 0)]})
    assert ps.k == 2 and ps.demands == [(0, 3), (3, 0)]
    assert ps.mask.tolist() == [[True, True], [True, False]]
    with pytest.raises(KeyError):
        PathSet(net, [(0, 3)], [[(0, 3)]], 1)  # there is no link 0->3
    with pytest.raises(ValueError):
        PathSet(net, [(0, 3)], [[(0, 1)]], 1)


def test_traffic_on_a_pair_without_paths_is_refused_not_dropped():
    from qnn.bench.harness import run_bench

    net = square()
    ps = from_tunnels(net, {(0, 3): [(0, 1, 3), (0, 2, 3)], (3, 0): [(3, 1, 0)]})
    tms = np.zeros((3, 4, 4))
    tms[:, 0, 3] = tms[:, 3, 0] = 1.0
    tms[:, 1, 1] = 5.0  # the diagonal is not traffic
    ps.check_covers(tms)
    tms[2, 1, 2] = 0.5  # 1->2 has no candidate path: demand_vector would drop it
    with pytest.raises(ValueError, match="1->2"):
        ps.check_covers(tms)
    with pytest.raises(ValueError, match="without candidate paths"):
        run_bench(net, ps, tms, ["lp"], progress=False)
    with pytest.raises(ValueError, match="4 nodes"):
        ps.check_covers(np.zeros((2, 3, 3)))
