"""A tiny training run lowers the loss and improves on the untrained router."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qnn.models.router import DEFAULT_FEATURES, evaluate, hard_split, smooth_mlu_ratio
from qnn.models.dataset import history_input, time_split
from qnn.cli import main as cli_main
from qnn.models.train import anneal_temperature, build_model, fit
from tests.qnn_helpers import t, tiny_setup


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
def test_tiny_training_lowers_loss(kind):
    torch.manual_seed(0)
    net, ps, pt, dem, opt = tiny_setup(n_tms=24)
    X, Y, optima = dem[:-1], dem[1:], opt[1:]
    tr, va = time_split(len(X), 0.25)
    router = build_model(kind, 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx",
                         "residual", seed=0)

    def loss():
        with torch.no_grad():
            return float(smooth_mlu_ratio(pt, t(Y[tr]), router(pt, t(X[tr])), t(optima[tr])).mean())

    before = loss()
    before_val = evaluate(router, pt, t(X[va]), t(Y[va]), t(optima[va])).summary["mean"]
    best, hist = fit(router, pt, (X[tr], Y[tr], optima[tr]), (X[va], Y[va], optima[va]), epochs=6, lr=0.05,
                     batch=4, patience=6, seed=0, progress=False)
    assert loss() < before - 1e-3
    assert hist[0]["train_loss"] > hist[-1]["train_loss"]
    assert best["mean"] <= before_val + 1e-9
    assert best["mean"] >= 1.0 - 1e-4  # cannot beat the LP optimum


@pytest.mark.parametrize("anneal", [None, (0.5, 0.05)], ids=["straight-through", "anneal"])
def test_single_path_training_improves_the_argmax_routing(anneal, monkeypatch):
    torch.manual_seed(0)
    net, ps, pt, dem, opt = tiny_setup(n_tms=24)
    X, Y, optima = dem[:-1], dem[1:], opt[1:]
    tr, va = time_split(len(X), 0.25)
    router = build_model("mlp", 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx",
                         "residual", seed=0)
    before = evaluate(router, pt, t(X[va]), t(Y[va]), t(optima[va]), single_path=True).summary["mean"]
    trained_at, forward = [], type(router).forward

    def recording_forward(self, *args, temperature=1.0, **kwargs):
        if self.training:
            trained_at.append(temperature)
        return forward(self, *args, temperature=temperature, **kwargs)

    monkeypatch.setattr(type(router), "forward", recording_forward)
    best, _ = fit(router, pt, (X[tr], Y[tr], optima[tr]), (X[va], Y[va], optima[va]), epochs=8, lr=0.05,
                  batch=4, patience=8, seed=0, progress=False, single_path=True, anneal=anneal)
    after = evaluate(router, pt, t(X[va]), t(Y[va]), t(optima[va]), single_path=True).summary["mean"]
    assert after == pytest.approx(best["mean"])  # the best epoch's weights are the ones kept
    assert after < before - 1e-3
    if anneal is None:
        assert set(trained_at) == {1.0}
    else:  # every step of an epoch at that epoch's temperature, falling from tau0 to tau1
        steps = len(trained_at) // 8
        assert trained_at[0] == pytest.approx(0.5) and trained_at[-1] == pytest.approx(0.05)
        assert trained_at == [anneal_temperature(anneal, ep, 8) for ep in range(8) for _ in range(steps)]


def test_anneal_needs_single_path_training():
    _, ps, pt, dem, opt = tiny_setup(n_tms=8)
    router = build_model("mlp", 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx",
                         "residual", seed=0)
    with pytest.raises(ValueError, match="single_path"):
        fit(router, pt, (dem[:4], dem[1:5], opt[1:5]), (dem[4:6], dem[5:7], opt[5:7]), epochs=1,
            progress=False, anneal=(0.5, 0.05))


def test_temperature_sharpens_the_split_without_changing_the_chosen_path():
    _, ps, pt, dem, _ = tiny_setup(n_tms=4)
    router = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx",
                         "residual", seed=0)
    with torch.no_grad():
        plain = router(pt, t(dem))
        sharp = router(pt, t(dem), temperature=0.05)
        same = router(pt, t(dem), temperature=1.0)
    assert torch.equal(plain, same)
    assert torch.equal(hard_split(plain, pt.mask), hard_split(sharp, pt.mask))
    assert torch.allclose(sharp.sum(-1), torch.ones(sharp.shape[:-1]))
    assert (sharp.amax(-1) >= plain.amax(-1) - 1e-6).all()
    assert float(sharp.amax(-1).mean()) > float(plain.amax(-1).mean()) + 0.05
    with torch.no_grad():
        plain_rounds = router(pt, t(dem), return_rounds=True)
        sharp_rounds = router(pt, t(dem), return_rounds=True, temperature=0.05)
    # the rounds read the loads of the plain split; only the final output is sharpened
    assert all(torch.equal(a, b) for a, b in zip(plain_rounds[:-1], sharp_rounds[:-1]))
    assert torch.equal(sharp_rounds[-1], sharp)
    with torch.no_grad():
        assert router(pt, t(dem), n_rounds=0, temperature=0.05).shape == plain.shape


def test_anneal_schedule_runs_from_the_first_to_the_last_temperature():
    assert anneal_temperature(None, 3, 10) == 1.0
    temps = [anneal_temperature((0.5, 0.02), ep, 20) for ep in range(20)]
    assert temps[0] == pytest.approx(0.5) and temps[-1] == pytest.approx(0.02)
    assert all(a > b for a, b in zip(temps, temps[1:]))


@pytest.mark.parametrize("text", ["0.5", "a,b", "0.5,0", "-1,0.1", "1,2,3", "inf,0.02", "nan,0.1"])
def test_bad_anneal_option_is_refused_by_name(text, capsys):
    with pytest.raises(SystemExit):
        cli_main(["train", "--topology", "abilene", "--single-path", "--anneal", text, "--out", "x.pt"])
    assert "--anneal" in capsys.readouterr().err


def test_anneal_without_single_path_is_refused(tmp_path, capsys):
    argv = ["train", "--topology", "abilene", "--anneal", "0.5,0.02", "--out", str(tmp_path / "x.pt")]
    assert cli_main(argv) == 2
    assert "needs --single-path" in capsys.readouterr().err


def test_history_input_reduces_the_last_h_matrices_by_mean_or_peak():
    demands = np.array([[1.0, 8.0], [3.0, 2.0], [5.0, 4.0], [0.0, 6.0]])
    assert np.array_equal(history_input(demands, 1, "max"), demands)
    assert np.allclose(history_input(demands, 2, "mean"), [[1, 8], [2, 5], [4, 3], [2.5, 5]])
    assert np.array_equal(history_input(demands, 3, "max"), [[1, 8], [3, 8], [5, 8], [5, 6]])


@pytest.mark.parametrize("reduce, expected", [("mean", [[2.0, 5.0]]), ("max", [[3.0, 8.0]])])
def test_learned_routing_decides_on_the_history_reduction_its_checkpoint_names(reduce, expected, tmp_path,
                                                                                monkeypatch):
    from qnn.models.checkpoint import save_checkpoint, topology_fingerprint
    from qnn.bench.learned_methods import LearnedRouting
    from qnn.bench.methods import DecisionContext

    net, ps, _, _, _ = tiny_setup()
    router = build_model("mlp", 3, DEFAULT_FEATURES, None, 2, 2, "crx", "residual", seed=0)
    ckpt = tmp_path / "mlp-tiny.pt"
    save_checkpoint(ckpt, router, {"topology": topology_fingerprint(net), "k": 3, "setting": "predictive",
                                   "history": 2, "history_reduce": reduce})
    learned = LearnedRouting(ps, net, {"checkpoint": str(ckpt)}, "mlp", single_path=False)
    seen = []
    monkeypatch.setattr(learned.loaded, "router", lambda pt, demand: seen.append(demand.numpy()) or
                        torch.full((1, ps.n_demands, 3), 1 / 3))
    tms = np.zeros((2, 6, 6))
    (a, b), (c, d) = ps.demands[:2]
    tms[0, a, b], tms[0, c, d], tms[1, a, b], tms[1, c, d] = 1.0, 8.0, 3.0, 2.0
    ctx = DecisionContext(t=2, setting="predictive", visible_index=1, visible_tm=tms[1],
                          visible_demand=ps.demand_vector(tms[1]), history_tms=tms, prev_split=None,
                          observed_loads=None, network=net, pathset=ps)
    learned.decide(ctx)
    assert np.allclose(seen[0][:, :2], expected)


def test_unknown_history_reduction_in_a_checkpoint_is_refused(tmp_path):
    from qnn.models.checkpoint import CheckpointError, save_checkpoint, topology_fingerprint
    from qnn.bench.learned_methods import LearnedRouting

    net, ps, _, _, _ = tiny_setup()
    router = build_model("mlp", 3, DEFAULT_FEATURES, None, 2, 2, "crx", "residual", seed=0)
    ckpt = tmp_path / "mlp-tiny.pt"
    save_checkpoint(ckpt, router, {"topology": topology_fingerprint(net), "k": 3, "history": 2,
                                   "history_reduce": "median"})
    with pytest.raises(CheckpointError, match="history_reduce 'median'"):
        LearnedRouting(ps, net, {"checkpoint": str(ckpt)}, "mlp", single_path=False)


def _train_polska(tmp_path, *extra):
    out = tmp_path / "qnn-polska.pt"
    assert cli_main(["train", "--topology", "sndlib/polska", "--n-synthetic", "12", "--epochs", "1",
                     "--layers", "1", "--rounds", "1", "--quiet", "--out", str(out), *extra]) == 0
    return json.loads(out.with_suffix(".json").read_text())


def test_a_network_too_large_for_16_matrices_a_step_trains_in_fewer_within_a_stated_time_limit(
        tmp_path, capsys, monkeypatch):
    import qnn.models.train as train
    from qnn.models.router import Router

    demands = 12 * 11  # sndlib/polska: 12 nodes
    monkeypatch.setattr(train, "STEP_FLOWS", 5 * demands)
    monkeypatch.setattr(train, "VALIDATION_FLOWS", 2 * demands)
    passes, forward = [], Router.forward

    def recording_forward(self, pt, demand, *args, **kwargs):
        passes.append((self.training, demand.shape[0]))
        return forward(self, pt, demand, *args, **kwargs)

    monkeypatch.setattr(Router, "forward", recording_forward)
    meta = _train_polska(tmp_path)
    # 11 (decision, scored) pairs: 8 train in steps of at most 5, 3 validate in passes of at most 2
    assert sorted(n for training, n in passes if training) == [3, 5]
    assert sorted(n for training, n in passes if not training) == [1, 2]
    assert meta["training"]["batch"] == 5
    assert "--batch 5" in meta["command"] and "--max-minutes 15.0" in meta["command"]  # reproducible
    assert "training stops after 15 minutes by default" in capsys.readouterr().err


def test_a_small_network_keeps_16_matrices_a_step_and_no_time_limit(tmp_path, capsys):
    meta = _train_polska(tmp_path)
    assert meta["training"]["batch"] == 16 and "--batch 16" in meta["command"]
    assert "--max-minutes" not in meta["command"] and "by default" not in capsys.readouterr().err
    assert "--max-minutes 0.0" in _train_polska(tmp_path, "--max-minutes", "0")["command"]  # 0: no limit


@pytest.mark.parametrize("limit, epochs", [(35.0, 3), (40.0, 4), (9.0, 1)])
def test_a_time_limit_starts_no_epoch_that_would_end_past_it(limit, epochs, monkeypatch):
    import types

    import qnn.models.train as train
    from qnn.models.router import Router

    now = [0.0]
    monkeypatch.setattr(train, "time", types.SimpleNamespace(time=lambda: now[0]))
    forward = Router.forward

    def ten_seconds_a_step(self, *args, **kwargs):
        if self.training:
            now[0] += 10.0
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(Router, "forward", ten_seconds_a_step)
    _, ps, pt, dem, opt = tiny_setup(n_tms=24)
    X, Y, optima = dem[:-1], dem[1:], opt[1:]
    tr, va = time_split(len(X), 0.25)
    router = build_model("mlp", 3, ("bottleneck", "share", "stretch", "split"), None, 1, 1, "crx",
                         "residual", seed=0)
    _, history = fit(router, pt, (X[tr], Y[tr], optima[tr]), (X[va], Y[va], optima[va]), epochs=20,
                     batch=len(tr), patience=20, progress=False, max_seconds=limit)  # one step an epoch
    assert len(history) == epochs
    assert history[-1]["seconds"] <= max(limit, 10.0)  # the first epoch always runs
