"""Loads, MLU, stretch and churn against hand-computed values."""
import numpy as np
import pytest

from qnn.loads import churn, link_loads, mlu, one_hot, stretch, utilisation
from qnn.paths import k_shortest_paths
from tests.test_paths import square


@pytest.fixture
def ps():
    return k_shortest_paths(square(), 2, demands=[(0, 3), (0, 1)])


def test_loads_and_mlu_by_hand(ps):
    net = ps.network
    # demand 0->3 = 6 split 2/3 over 0-1-3 and 1/3 over 0-2-3; demand 0->1 = 3 all on 0-1
    split = np.array([[2 / 3, 1 / 3], [1.0, 0.0]])
    loads = link_loads(ps, np.array([6.0, 3.0]), split)
    assert loads.shape == (1, net.n_links)
    expected = np.zeros(net.n_links)
    li = net.link_index
    expected[li[(0, 1)]] = 4 + 3
    expected[li[(1, 3)]] = 4
    expected[li[(0, 2)]] = 2
    expected[li[(2, 3)]] = 2
    np.testing.assert_allclose(loads[0], expected)
    np.testing.assert_allclose(utilisation(loads, net.capacity)[0], expected / 10)
    assert mlu(loads, net.capacity)[0] == pytest.approx(0.7)


def test_batched_loads_equal_per_matrix_loads(ps):
    rng = np.random.default_rng(0)
    demand = rng.random((5, 2))
    splits = rng.dirichlet([1, 1], size=(5, 2))
    batched = link_loads(ps, demand, splits)
    for t in range(5):
        np.testing.assert_allclose(batched[t], link_loads(ps, demand[t], splits[t])[0])
    shared = link_loads(ps, demand, splits[0])  # one split for every matrix broadcasts
    np.testing.assert_allclose(shared[3], link_loads(ps, demand[3], splits[0])[0])
    # loads are linear: every unit of demand adds its hop count to the total load
    np.testing.assert_allclose(batched.sum(axis=1), (demand[:, :, None] * splits * ps.hops).sum(axis=(1, 2)))


def test_one_hot_stretch_and_churn(ps):
    single = one_hot(np.array([1, 1]), 2)
    np.testing.assert_array_equal(single, [[0, 1], [0, 1]])
    # 0->3: 2 hops on a 2-hop shortest; 0->1 on path 0-2-3-1: 3 hops against 1
    np.testing.assert_allclose(stretch(ps, single), [1.0, 3.0])
    np.testing.assert_allclose(stretch(ps, np.array([[0.5, 0.5], [0.5, 0.5]])), [1.0, 2.0])
    assert churn(None, single) == 0.0
    assert churn(one_hot(np.array([0, 1]), 2), single) == pytest.approx(0.5)  # one of two flows moved
    assert churn(np.array([[0.5, 0.5], [0, 1]]), single) == pytest.approx(0.25)
