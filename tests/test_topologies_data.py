"""The loaders against the real data in ../shared/data (skipped when it is absent)."""
import numpy as np
import pytest

from tests.conftest import require_data_or_skip
from topologies.abilene import ABILENE_LINKS, ABILENE_NODES, load_abilene, read_topology_tsv
from topologies.geant import load_geant, load_tunnels
from topologies.traffic import load_traffic_matrices, load_values

pytestmark = pytest.mark.data


def test_abilene_facts_equal_topology_tsv():
    path = require_data_or_skip("abilene", "topology.tsv")
    assert read_topology_tsv(path) == (12, list(ABILENE_LINKS))
    from_file, from_facts = load_abilene(path), load_abilene()
    assert from_file.links == from_facts.links
    np.testing.assert_array_equal(from_file.capacity, from_facts.capacity)
    np.testing.assert_array_equal(from_file.weight, from_facts.weight)
    assert len(ABILENE_NODES) == from_file.n_nodes == 12


def test_abilene_week_shape_and_diagonal():
    tms = load_traffic_matrices(require_data_or_skip("abilene", "tm-week1.txt"), 12)
    assert tms.shape == (2016, 12, 12)
    assert np.all(tms[:, np.arange(12), np.arange(12)] == 0)
    assert tms.min() >= 0 and tms.sum() > 0


def test_geant_network_and_tunnels(data_dir):
    net = load_geant(data_dir)
    assert (net.n_nodes, net.n_links) == (22, 72)
    tunnels = load_tunnels(net, data_dir=data_dir)
    assert len(tunnels) == 22 * 21
    assert all(len(p) == 3 for p in tunnels.values())


def test_geant_hist_and_opt_files_hold_one_optimum_per_matrix(data_dir):
    for stem, count in (("tm-dev", 400), ("tm-train-small", 16)):
        tms = load_traffic_matrices(data_dir / "geant" / f"{stem}.hist", 22)
        opt = load_values(data_dir / "geant" / f"{stem}.opt")
        assert tms.shape == (count, 22, 22) and opt.shape == (count,)
