"""A tiny training run lowers the loss and improves on the untrained router."""
from __future__ import annotations

import pytest
import torch

from qnn.router import evaluate, smooth_mlu_ratio
from qnn.train import build_model, fit, time_split
from tests.qnn_helpers import t, tiny_setup


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
def test_tiny_training_lowers_loss(kind):
    torch.manual_seed(0)
    net, ps, pt, dem, opt = tiny_setup(n_tms=24)
    X, Y, O = dem[:-1], dem[1:], opt[1:]
    tr, va = time_split(len(X), 0.25)
    router = build_model(kind, 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx",
                         "residual", seed=0)

    def loss():
        with torch.no_grad():
            return float(smooth_mlu_ratio(pt, t(Y[tr]), router(pt, t(X[tr])), t(O[tr])).mean())

    before = loss()
    before_val = evaluate(router, pt, t(X[va]), t(Y[va]), t(O[va])).summary["mean"]
    best, hist = fit(router, pt, (X[tr], Y[tr], O[tr]), (X[va], Y[va], O[va]), epochs=6, lr=0.05,
                     batch=4, patience=6, seed=0, progress=False)
    assert loss() < before - 1e-3
    assert hist[0]["train_loss"] > hist[-1]["train_loss"]
    assert best["mean"] <= before_val + 1e-9
    assert best["mean"] >= 1.0 - 1e-4  # cannot beat the LP optimum
