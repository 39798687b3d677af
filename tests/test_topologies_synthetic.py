"""topohub loader, data-dir resolution and the synthetic gravity traffic."""
import numpy as np
import pytest

from qnn.paths import all_pairs
from topologies import datadir
from topologies.zoo import load_topohub


def test_data_dir_env_and_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(datadir.DATA_DIR_ENV, str(tmp_path))
    assert datadir.data_dir() == tmp_path
    (tmp_path / "geant").mkdir()
    assert datadir.require_data("geant") == tmp_path / "geant"
    with pytest.raises(datadir.DataUnavailableError) as info:
        datadir.require_data("abilene", "tm-week1.txt")
    assert str(tmp_path / "abilene" / "tm-week1.txt") in str(info.value)
    assert datadir.DATA_DIR_ENV in str(info.value)
    monkeypatch.delenv(datadir.DATA_DIR_ENV)
    assert datadir.data_dir().parts[-2:] == ("shared", "data")


def test_topohub_capacity_rules():
    uniform = load_topohub("polska")
    assert uniform.name == "sndlib-polska" and uniform.n_nodes == 12
    assert uniform.n_links % 2 == 0 and all((v, u) in uniform.link_index for u, v in uniform.links)
    assert np.all(uniform.capacity == 10e9) and np.all(uniform.weight >= 1)
    degree = load_topohub("sndlib/polska", capacity_rule="degree", capacity_bps=1e9)
    assert set(degree.capacity) <= {1e9, 2e9, 4e9, 8e9} and len(set(degree.capacity)) > 1
    assert np.all(load_topohub("polska", weight="hops").weight == 1)
    with pytest.raises(KeyError):
        load_topohub("no-such-network")


def test_gravity_traffic_is_seeded_nonnegative_and_bursty():
    from topologies.traffic import gravity_traffic

    net = load_topohub("polska")
    a = gravity_traffic(net, 50, seed=1)
    np.testing.assert_array_equal(a, gravity_traffic(net, 50, seed=1))
    assert not np.array_equal(a, gravity_traffic(net, 50, seed=2))
    assert a.shape == (50, 12, 12) and a.min() >= 0
    assert np.all(a[:, np.arange(12), np.arange(12)] == 0)
    calm = gravity_traffic(net, 50, seed=1, burst_probability=0.0)
    assert (a / np.where(calm > 0, calm, 1)).max() == pytest.approx(4.0)  # burst_factor
    pairs = all_pairs(net)[:5]
    only = gravity_traffic(net, 3, seed=1, pairs=pairs)
    mask = np.zeros((12, 12), bool)
    mask[tuple(zip(*pairs))] = True
    assert np.all(only[:, ~mask] == 0) and np.all(only[:, mask] > 0)


def test_abilene_traffic_falls_back_to_seeded_gravity_without_the_data(tmp_path, monkeypatch):
    from topologies.abilene import week_or_gravity

    monkeypatch.setenv("QROUTE_DATA_DIR", str(tmp_path / "absent"))
    matrices, source, real = week_or_gravity(n_synthetic=5, seed=3)
    again, _, _ = week_or_gravity(n_synthetic=5, seed=3)
    assert not real and "seed 3" in source and matrices.shape == (5, 12, 12)
    assert np.array_equal(matrices, again)


@pytest.mark.data
def test_abilene_traffic_is_the_scaled_week_when_the_data_is_there():
    from qnn.baselines import shortest_path_routing
    from tests.conftest import require_data_or_skip
    from topologies.abilene import load_abilene, week_or_gravity

    path = require_data_or_skip("abilene", "tm-week1.txt")
    matrices, source, real = week_or_gravity(n_synthetic=5, seed=3)
    assert real and source == str(path) and matrices.shape == (2016, 12, 12)
    lines = path.read_text().splitlines()
    for t, src, dst in ((0, 0, 1), (0, 1, 2), (1000, 3, 7), (2015, 11, 10)):
        raw = float(lines[t].split()[src * 12 + dst])  # row-major 12x12, one matrix a line
        assert matrices[t, src, dst] == pytest.approx(raw * 8.0)  # the documented scale, x8
    assert np.all(matrices[:, np.arange(12), np.arange(12)] == 0)
    # the scale's documented purpose: the week's OSPF shortest-path MLU has mean 0.22, peak 0.96
    net = load_abilene()
    pairs = all_pairs(net)
    demand = matrices[:, [s for s, _ in pairs], [d for _, d in pairs]]
    utilisation = shortest_path_routing(net, pairs).loads(demand) / net.capacity
    assert utilisation.max(axis=1).mean() == pytest.approx(0.22, abs=0.005)
    assert utilisation.max() == pytest.approx(0.96, abs=0.005)
