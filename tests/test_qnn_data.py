"""The shipped checkpoints against the real data, and the bench methods (need the data dir)."""
from __future__ import annotations

import pytest
import torch

from qnn.models.checkpoint import SHIPPED_DIR, TARGET_LAG, CheckpointError, history_reduce, load_checkpoint
from tests.conftest import require_data_or_skip
from tests.qnn_helpers import shipped_router_checkpoints

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def geant():
    require_data_or_skip("geant", "tm-dev.hist")
    from qnn.models.dataset import load_dataset

    return load_dataset("geant")


SHIPPED = [p.stem for p in shipped_router_checkpoints()]
_DATASETS: dict = {}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("qnn-abilene")
                                  else n for n in SHIPPED])
def test_shipped_checkpoint_reproduces_its_validation_figures(name):
    """Every shipped checkpoint: its validation pairs come after every training target, and
    re-evaluating it on them gives the figures its sidecar (and the README) report."""
    from qnn.models.router import PathTensors, evaluate
    from qnn.models.dataset import load_dataset, pairs, time_split
    from qnn.problems import DEFAULT_TRAFFIC

    path = SHIPPED_DIR / f"{name}.pt"
    router, meta = load_checkpoint(path)
    topo = meta["topology"]["name"]
    require_data_or_skip(*DEFAULT_TRAFFIC[topo])
    if topo not in _DATASETS:
        _DATASETS[topo] = load_dataset(topo, k=meta["k"])
    ds = _DATASETS[topo]
    load_checkpoint(path, network=ds.network, k=meta["k"])  # fingerprint matches the data's topology
    X, Y, optima = pairs(ds, meta["setting"], meta.get("history", 1), history_reduce(meta))
    tr, va = time_split(len(X), meta["split"]["val_fraction"])
    assert [int(tr[0]), int(tr[-1])] == meta["split"]["train_pairs"]
    assert [int(va[0]), int(va[-1])] == meta["split"]["val_pairs"]
    lag = TARGET_LAG[meta["setting"]]
    assert tr[-1] + lag < va[0] + lag and va[-1] + lag == len(ds.demands) - 1  # targets: train < validation
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    val = evaluate(router, PathTensors(ds.pathset), t(X[va]), t(Y[va]), t(optima[va]),
                   single_path=bool(meta.get("single_path", False))).summary
    assert val["n"] == meta["validation"]["n"] == len(va)
    for key in ("mean", "p90", "max"):
        assert val[key] == pytest.approx(meta["validation"][key], abs=1e-4), key


def test_shipped_checkpoint_refuses_the_other_topology(geant):
    require_data_or_skip("abilene", "topology.tsv")
    from topologies.abilene import load_abilene

    path = SHIPPED_DIR / "qnn-geant.pt"  # tracked: a missing one is a failure, not a skip
    with pytest.raises(CheckpointError, match="topology 'geant'"):
        load_checkpoint(path, network=load_abilene())


@pytest.mark.parametrize("setting", ["oracle", "predictive"])
def test_bench_methods_run_with_shipped_checkpoints(geant, setting):
    from qnn.bench.harness import run_bench
    from topologies.traffic import load_traffic_matrices
    from topologies.datadir import data_dir

    tms = load_traffic_matrices(data_dir() / "geant" / "tm-dev.hist", 22)[390:395]
    res = run_bench(geant.network, geant.pathset, tms, ["qnn", "qnn-split", "mlp", "mlp-split"], setting,
                    {"checkpoint": str(SHIPPED_DIR / "qnn-geant.pt")}, progress=False)
    s = res.summary()["methods"]
    for name in ("qnn", "qnn-split", "mlp", "mlp-split"):
        assert s[name]["n_scored"] == 4 and s[name]["mlu_ratio"]["mean"] >= 1.0 - 1e-6
    assert s["qnn-split"]["mlu_ratio"]["mean"] < 1.2


def test_an_optima_file_that_is_not_the_lp_optimum_is_refused(tmp_path):
    import shutil

    from qnn.models.dataset import load_dataset
    from topologies.errors import DataFormatError

    geant_dir = require_data_or_skip("geant")
    copy = tmp_path / "geant"
    copy.mkdir()
    for name in ("GEANT.json", "tunnels.txt", "tm-train-small.hist"):
        shutil.copy(geant_dir / name, copy / name)
    (copy / "tm-train-small.opt").write_text("5.0\n" * 16)
    with pytest.raises(DataFormatError, match=r"tm-train-small.opt:1: 5 is not the path-LP optimum"):
        load_dataset("geant", copy / "tm-train-small.hist", data_dir=tmp_path)
