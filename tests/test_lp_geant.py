"""Acceptance: the path LP reproduces GEANT's published LP optima (tm-dev.opt, tm-train-small.opt)."""
import numpy as np
import pytest

from qnn.loads import link_loads, mlu
from qnn.lp import path_lp
from qnn.paths import from_tunnels
from topologies.geant import load_geant, load_tunnels
from topologies.traffic import load_traffic_matrices, load_values

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def geant(request):
    from tests.conftest import require_data_or_skip

    root = require_data_or_skip("geant")
    net = load_geant(root.parent)
    return root, from_tunnels(net, load_tunnels(net, data_dir=root.parent))


@pytest.mark.parametrize("stem", ["tm-train-small", pytest.param("tm-dev", marks=pytest.mark.slow)])
def test_path_lp_reproduces_every_published_optimum(geant, stem):
    root, ps = geant
    demand = ps.demand_vector(load_traffic_matrices(root / f"{stem}.hist", 22))
    published = load_values(root / f"{stem}.opt")
    assert len(published) == len(demand)
    ours = np.array([path_lp(ps, d).mlu for d in demand])
    rel = np.abs(ours - published) / published
    assert rel.max() < 1e-6, f"worst matrix {rel.argmax()}: {ours[rel.argmax()]} vs {published[rel.argmax()]}"
    # the split it returns realises that MLU when its loads are recomputed
    loads = link_loads(ps, demand[0], path_lp(ps, demand[0]).split)
    np.testing.assert_allclose(mlu(loads, ps.network.capacity), published[0], rtol=1e-6)
