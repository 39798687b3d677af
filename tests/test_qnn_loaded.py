"""The loaded-router adapter the controller and the bench share."""
from __future__ import annotations

import numpy as np
import pytest

from qnn.models.checkpoint import CheckpointError, save_checkpoint, topology_fingerprint
from qnn.models.loaded import LoadedRouter
from qnn.models.router import DEFAULT_FEATURES
from qnn.models.train import build_model
from tests.qnn_helpers import tiny_setup


def _saved(tmp_path, net, kind="mlp", **meta):
    router = build_model(kind, 3, DEFAULT_FEATURES, None, 2, 2, "crx", "residual", seed=0)
    path = tmp_path / f"{kind}-tiny.pt"
    save_checkpoint(path, router, {"topology": topology_fingerprint(net), "k": 3, **meta})
    return path


@pytest.mark.parametrize("reduce, history, expected", [("mean", 2, [4.0, 3.0]), ("max", 3, [5.0, 8.0]),
                                                       ("max", 1, [5.0, 0.0])])
def test_decision_demand_reduces_the_last_matrices_the_checkpoint_names(tmp_path, reduce, history, expected):
    net, _, _, _, _ = tiny_setup()
    loaded = LoadedRouter(_saved(tmp_path, net, history=history, history_reduce=reduce))
    recent = np.array([[1.0, 8.0], [3.0, 6.0], [5.0, 0.0]])  # oldest first
    assert np.array_equal(loaded.decision_demand(recent), expected)


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
def test_decide_splits_each_flow_over_its_valid_paths_and_single_path_takes_the_largest(tmp_path, kind):
    net, ps, _, dem, _ = tiny_setup()
    loaded = LoadedRouter(_saved(tmp_path, net, kind), network=net, k=3, kind=kind)
    paths = loaded.path_tensors(ps)
    split = loaded.decide(paths, dem[0])
    assert split.shape == (ps.n_demands, 3)
    assert np.allclose(split.sum(axis=1), 1.0, atol=1e-5) and np.all(split[~ps.mask] == 0)
    one = loaded.decide(paths, dem[0], single_path=True)
    assert np.array_equal(one.argmax(axis=1), split.argmax(axis=1)) and np.array_equal(one.sum(axis=1),
                                                                                        np.ones(ps.n_demands))


def test_a_checkpoint_for_another_kind_is_refused(tmp_path):
    net, _, _, _, _ = tiny_setup()
    with pytest.raises(CheckpointError, match="'qnn' wanted"):
        LoadedRouter(_saved(tmp_path, net, "mlp"), kind="qnn")
