"""The shipped checkpoints against the real data, and the bench methods (need the data dir)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from qnn.checkpoint import SHIPPED_DIR, CheckpointError, load_checkpoint
from tests.conftest import require_data_or_skip

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def geant():
    require_data_or_skip("geant", "tm-dev.hist")
    from qnn.train import load_dataset

    return load_dataset("geant")


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
def test_shipped_geant_checkpoint_reproduces_its_validation_figure(geant, kind):
    from qnn.router import PathTensors, evaluate
    from qnn.train import pairs, time_split

    path = SHIPPED_DIR / f"{kind}-geant.pt"
    if not path.exists():
        pytest.skip(f"{path} not shipped")
    router, meta = load_checkpoint(path, network=geant.network, k=3, kind=kind)
    assert meta["data_files"]["tm-dev.hist"]  # sha256 recorded
    X, Y, O = pairs(geant, meta["setting"], meta.get("history", 1))
    _, va = time_split(len(X), meta["split"]["val_fraction"])
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    val = evaluate(router, PathTensors(geant.pathset), t(X[va]), t(Y[va]), t(O[va])).summary
    assert val["mean"] == pytest.approx(meta["validation"]["mean"], abs=2e-3)


def test_shipped_checkpoint_refuses_the_other_topology(geant):
    require_data_or_skip("abilene", "topology.tsv")
    from topologies.abilene import load_abilene

    path = SHIPPED_DIR / "qnn-geant.pt"
    if not path.exists():
        pytest.skip("qnn-geant not shipped")
    with pytest.raises(CheckpointError, match="topology 'geant'"):
        load_checkpoint(path, network=load_abilene())


@pytest.mark.parametrize("setting", ["oracle", "predictive"])
def test_bench_methods_run_with_shipped_checkpoints(geant, setting):
    from qnn.bench import run_bench
    from topologies.traffic import load_traffic_matrices
    from topologies.datadir import data_dir

    if not (SHIPPED_DIR / "qnn-geant.pt").exists() or not (SHIPPED_DIR / "mlp-geant.pt").exists():
        pytest.skip("GEANT checkpoints not shipped")
    tms = load_traffic_matrices(data_dir() / "geant" / "tm-dev.hist", 22)[390:395]
    res = run_bench(geant.network, geant.pathset, tms, ["qnn", "qnn-split", "mlp", "mlp-split"], setting,
                    {"checkpoint": str(SHIPPED_DIR / "qnn-geant.pt")}, progress=False)
    s = res.summary()["methods"]
    for name in ("qnn", "qnn-split", "mlp", "mlp-split"):
        assert s[name]["n_scored"] == 4 and s[name]["mlu_ratio"]["mean"] >= 1.0 - 1e-6
    assert s["qnn-split"]["mlu_ratio"]["mean"] < 1.2
