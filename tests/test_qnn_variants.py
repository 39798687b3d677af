"""The QNN variants of issue 17: a classical encoder of the circuit's angles (hybrid), per-flow
history features, and one router trained on several networks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qnn.cli import main as cli_main
from qnn.models.checkpoint import (build_router, load_checkpoint, model_config, save_checkpoint,
                                   topology_fingerprint, trained_target_rows_in)
from qnn.models.dataset import history_windows
from qnn.models.router import DEFAULT_FEATURES, PathTensors, n_params
from qnn.models.train import fit
from tests.qnn_helpers import t, tiny_network, tiny_setup

HISTORY = ("bottleneck", "share", "stretch", "split", "trend", "volatility", "peak_share")


# --- hybrid: a small MLP turns each path's features into its rotation angles ----------------------

def test_the_hybrid_circuit_simulated_fast_matches_torchquantum_gate_by_gate():
    core = build_router(model_config("qnn", 3, DEFAULT_FEATURES, n_qubits=4, encoder="mlp",
                                     encoder_hidden=5), seed=3).core
    x = torch.rand(7, 3, 4) * 2
    with torch.no_grad():
        assert torch.allclose(core.expval_z(x, "fast"), core.expval_z(x, "device"), atol=1e-5)


def test_the_hybrid_encoder_gives_each_path_angles_from_its_own_features_only():
    core = build_router(model_config("qnn", 3, DEFAULT_FEATURES, encoder="mlp"), seed=0).core
    x = torch.rand(1, 3, 4)
    y = x.clone()
    y[0, 2] += 1.0  # change only path 2's features
    with torch.no_grad():
        a, b = core.angles(x), core.angles(y)
    assert a.shape == (1, 3, 3, 4)  # (batch, layers, qubits, features)
    assert torch.equal(a[:, :, :2], b[:, :, :2]) and not torch.equal(a[:, :, 2], b[:, :, 2])
    # its parameters: 4x8 + 8 into the hidden layer, 8x12 + 12 out (3 layers x 4 angles), and the
    # circuit's 3 blocks of 3 Rot (3 each) + 3 CRX, plus the readout scale
    assert n_params(core) == (4 * 8 + 8) + (8 * 12 + 12) + 3 * (3 * 3 + 3) + 1


@pytest.mark.parametrize("variant", [dict(encoder="mlp"), dict(feature_history=3),
                                     dict(encoder="mlp", feature_history=3)],
                         ids=["hybrid", "history", "hybrid-history"])
def test_gradients_reach_every_parameter_of_a_variant(variant):
    net, ps, pt, dem, opt = tiny_setup(n_tms=8)
    history = variant.get("feature_history", 1) > 1
    router = build_router(model_config("qnn", 3, HISTORY if history else DEFAULT_FEATURES, **variant), seed=0)
    inputs = t(history_windows(dem, 3)[:4]) if history else t(dem[:4])
    from qnn.models.router import smooth_mlu_ratio

    smooth_mlu_ratio(pt, t(dem[1:5]), router(pt, inputs), t(opt[1:5])).mean().backward()
    for name, p in router.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_a_hybrid_checkpoint_loads_back_to_the_same_decisions(tmp_path):
    net, ps, pt, dem, _ = tiny_setup()
    router = build_router(model_config("qnn", 3, DEFAULT_FEATURES, encoder="mlp", encoder_hidden=4), seed=1)
    save_checkpoint(tmp_path / "hybrid.pt", router, {"topology": topology_fingerprint(net), "k": 3})
    loaded, meta = load_checkpoint(tmp_path / "hybrid.pt", network=net)
    assert meta["model"]["encoder"] == "mlp" and meta["model"]["encoder_hidden"] == 4
    with torch.no_grad():
        assert torch.equal(loaded(pt, t(dem[:3])), router.eval()(pt, t(dem[:3])))


def test_the_encoder_option_is_the_qnns():
    with pytest.raises(ValueError, match="QNN variant"):
        model_config("mlp", 3, DEFAULT_FEATURES, encoder="mlp")
    with pytest.raises(ValueError, match="unknown encoder"):
        build_router({**model_config("qnn", 3, DEFAULT_FEATURES), "encoder": "conv"})
    with pytest.raises(ValueError, match="unknown encoder"):
        model_config("qnn", 3, DEFAULT_FEATURES, encoder="conv")


# --- history features: each flow's last H volumes ------------------------------------------------

def test_history_windows_hold_the_last_h_matrices_oldest_first_repeating_the_first():
    d = np.arange(12, dtype=float).reshape(4, 3)
    w = history_windows(d, 3)
    assert w.shape == (4, 3, 3)
    assert np.array_equal(w[0], [d[0], d[0], d[0]])
    assert np.array_equal(w[1], [d[0], d[0], d[1]])
    assert np.array_equal(w[3], [d[1], d[2], d[3]])


def test_history_features_match_a_flow_by_flow_computation():
    net, ps, pt, dem, _ = tiny_setup(n_tms=6)
    router = build_router(model_config("qnn", 3, HISTORY, feature_history=4), seed=0)
    window = dem[1:5]  # 4 matrices, the last routed
    split = torch.full((1, ps.n_demands, 3), 1 / 3).masked_fill(~pt.mask, 0.0)
    split = split / split.sum(-1, keepdim=True)
    feats = router.path_features(pt, t(window[-1:]), split, t(window[None])).numpy()[0]
    util = np.zeros(net.n_links)
    for flow in range(ps.n_demands):
        for slot, path in enumerate(ps.paths[flow]):
            for link in net.path_links(path) if path else ():
                util[link] += window[-1, flow] * float(split[0, flow, slot]) / net.capacity[link]
    mlu = util.max()
    for flow in range(ps.n_demands):
        volumes = window[:, flow]
        trend = np.clip(volumes[-1] / volumes.mean() - 1, -1, 4)
        volatility = min(volumes.std() / volumes.mean(), 4)
        for slot, path in enumerate(ps.paths[flow]):
            if not path:
                continue
            mincap = min(net.capacity[link] for link in net.path_links(path))
            assert feats[flow, slot, 4] == pytest.approx(trend, rel=1e-4, abs=1e-6)
            assert feats[flow, slot, 5] == pytest.approx(volatility, rel=1e-4, abs=1e-6)
            assert feats[flow, slot, 6] == pytest.approx(min(volumes.max() / mincap / mlu, 4), rel=1e-4)


def test_a_history_router_routes_the_last_matrix_of_its_window():
    """With the history features' weights cut to nothing, the router decides as on the last
    matrix alone: the other matrices reach it only through those features."""
    net, ps, pt, dem, _ = tiny_setup(n_tms=8)
    router = build_router(model_config("qnn", 3, HISTORY, feature_history=3), seed=0)
    with torch.no_grad():
        router.core.in_scale[..., 4:] = 0.0
        router.core.in_offset[..., 4:] = 0.0
        windows = t(history_windows(dem, 3))
        other = windows.clone()
        other[:, :2] = other[:, :2] * 3.0  # older matrices differ, the routed one does not
        assert torch.allclose(router(pt, windows), router(pt, other), atol=1e-6)


def test_a_history_router_refuses_a_plain_demand_and_features_without_a_window():
    net, ps, pt, dem, _ = tiny_setup()
    router = build_router(model_config("qnn", 3, HISTORY, feature_history=3), seed=0)
    with pytest.raises(ValueError, match=r"windows \(T, 3, D\)"):
        router(pt, t(dem[:2]))
    with pytest.raises(ValueError, match="feature_history must be at least 2"):
        build_router(model_config("qnn", 3, HISTORY))
    with pytest.raises(ValueError, match="for nothing"):
        build_router(model_config("qnn", 3, DEFAULT_FEATURES, feature_history=3))


def test_a_history_checkpoint_decides_on_the_window_in_the_bench_and_is_refused_by_the_controller(
        tmp_path, monkeypatch):
    from controller.demand_policies import LearnedPolicy
    from qnn.bench.learned_methods import LearnedRouting
    from qnn.bench.methods import DecisionContext
    from qnn.errors import CheckpointError

    net, ps, _, _, _ = tiny_setup()
    router = build_router(model_config("qnn", 3, HISTORY, feature_history=3), seed=0)
    ckpt = tmp_path / "qnn-tiny.pt"
    save_checkpoint(ckpt, router, {"topology": topology_fingerprint(net), "k": 3})
    learned = LearnedRouting(ps, net, {"checkpoint": str(ckpt)}, "qnn", single_path=False)
    seen = []
    monkeypatch.setattr(learned.loaded, "router", lambda pt, demand: seen.append(demand.numpy()) or
                        torch.full((1, ps.n_demands, 3), 1 / 3))
    tms = np.zeros((2, 6, 6))
    a, b = ps.demands[0]
    tms[0, a, b], tms[1, a, b] = 1.0, 5.0
    ctx = DecisionContext(t=2, setting="predictive", visible_index=1, visible_tm=tms[1],
                          visible_demand=ps.demand_vector(tms[1]), history_tms=tms, prev_split=None,
                          observed_loads=None, network=net, pathset=ps)
    learned.decide(ctx)
    assert seen[0].shape == (1, 3, ps.n_demands)
    assert seen[0][0, :, 0].tolist() == [1.0, 1.0, 5.0]  # two matrices known: the oldest repeated
    with pytest.raises(CheckpointError, match="last 3 traffic matrices"):
        LearnedPolicy(ckpt)
    with pytest.raises(CheckpointError, match="predictive setting only"):
        LearnedRouting(ps, net, {"checkpoint": str(ckpt), "setting": "oracle"}, "qnn", single_path=False)


def test_a_history_flows_exported_features_are_those_of_its_window():
    from qnn.models.export import flow_features

    net, ps, pt, dem, _ = tiny_setup(n_tms=6)
    router = build_router(model_config("qnn", 3, HISTORY, feature_history=3), seed=0)
    window = history_windows(dem, 3)[4]
    feats = flow_features(router, pt, window, flow=2, round_index=1)
    with torch.no_grad():
        split = router(pt, t(window[None]), n_rounds=1)
        expected = router.path_features(pt, t(window[-1:]), split, t(window[None]))[0, 2].numpy()
    assert feats.shape == (3, 7) and np.allclose(feats, expected)
    volumes = window[:, 2]
    assert feats[0, 4] == pytest.approx(np.clip(volumes[-1] / volumes.mean() - 1, -1, 4), rel=1e-4)


def test_history_features_need_a_window_and_a_window_needs_them(tmp_path, capsys):
    out = str(tmp_path / "q.pt")
    for extra, message in (([ "--features", ",".join(HISTORY)], "need --feature-history"),
                           (["--feature-history", "4"], "needs a history feature"),
                           (["--model", "mlp", "--encoder", "mlp"], "it needs --model qnn"),
                           (["--encoder-hidden", "4"], "it needs --encoder mlp"),
                           (["--also-train-on", "sndlib/abilene,sndlib/abilene"],
                            "sndlib/abilene more than once"),
                           (["--also-train-on", "sndlib/polska"], "which --topology trains on already")):
        assert cli_main(["train", "--topology", "sndlib/polska", "--n-synthetic", "12", "--out", out,
                         *extra]) == 2
        assert message in capsys.readouterr().err


# --- one router, several networks ------------------------------------------------------------------

def test_training_on_two_networks_chooses_the_epoch_by_their_mean_and_reports_each():
    torch.manual_seed(0)
    _, _, pt, dem, opt = tiny_setup(n_tms=16)
    other_net = tiny_network("other", extra_link=True)
    from qnn.lp import path_lp
    from qnn.paths import k_shortest_paths

    other_ps = k_shortest_paths(other_net, 3, weight="hops")
    rng = np.random.default_rng(5)
    other_dem = rng.gamma(1.0, 1.0, size=(12, other_ps.n_demands)) * 1e9
    other_opt = np.array([path_lp(other_ps, d).mlu for d in other_dem])
    router = build_router(model_config("qnn", 3, DEFAULT_FEATURES, n_layers=1, n_rounds=2), seed=0)

    def split(d, o):  # time order: the last 3 (decision, scored) pairs validate
        return (d[:-1][:-3], d[1:][:-3], o[1:][:-3]), (d[:-1][-3:], d[1:][-3:], o[1:][-3:])

    tr, va = split(dem, opt)
    other_tr, other_va = split(other_dem, other_opt)
    best, history = fit(router, pt, tr, va, epochs=3, batch=4, patience=3, progress=False,
                        also=[("other", PathTensors(other_ps), other_tr, other_va)])
    networks = best["networks"]
    assert set(networks) == {"main", "other"}
    assert best["mean"] == pytest.approx((networks["main"]["mean"] + networks["other"]["mean"]) / 2)
    assert all(set(h["val_mean_by_network"]) == {"main", "other"} for h in history)
    from qnn.models.router import evaluate

    # the summary of each network is that of the returned (best) router on its validation part
    again = evaluate(router, PathTensors(other_ps), *(t(a) for a in other_va)).summary["mean"]
    assert again == pytest.approx(networks["other"]["mean"], rel=1e-6)


def test_train_on_two_networks_records_both_and_the_bench_knows_both_training_ranges(tmp_path):
    out = tmp_path / "qnn-two.pt"
    assert cli_main(["train", "--topology", "sndlib/polska", "--n-synthetic", "12", "--epochs", "1",
                     "--layers", "1", "--rounds", "1", "--quiet", "--also-train-on", "sndlib/abilene",
                     "--out", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    from qnn.models.dataset import load_dataset

    abilene = load_dataset("sndlib/abilene", n_synthetic=12)
    assert meta["also_trained_on"][0]["topology"] == topology_fingerprint(abilene.network)
    by_network = meta["validation_by_network"]
    assert set(by_network) == {"sndlib/polska", "sndlib/abilene"}
    assert meta["validation"]["mean"] == pytest.approx(np.mean([v["mean"] for v in by_network.values()]))
    assert "--also-train-on sndlib/abilene" in meta["command"]
    from qnn.models.loaded import LoadedRouter

    # routing either network is not a transfer; the bench names both networks
    on_second = LoadedRouter(out, network=abilene.network, transfer=True)
    assert on_second.trained_on == "sndlib-polska+sndlib-abilene" and not on_second.transferred
    from tests.qnn_helpers import tiny_network as other

    assert LoadedRouter(out, network=other(), transfer=True).transferred


def test_training_rows_are_known_on_every_network_a_checkpoint_was_trained_on():
    meta = {"setting": "predictive", "data_files": {"a.txt": "aa"}, "split": {"train_pairs": [0, 2]},
            "also_trained_on": [{"data_files": {"b.txt": "bb"}, "split": {"train_pairs": [0, 4]}}]}
    assert trained_target_rows_in(meta, "a.txt", "aa") == {1, 2, 3}
    assert trained_target_rows_in(meta, "b.txt", "bb") == {1, 2, 3, 4, 5}
    assert trained_target_rows_in(meta, "b.txt", "other digest") == set()


def test_dote_is_one_networks_model(tmp_path, capsys):
    assert cli_main(["train", "--topology", "sndlib/polska", "--n-synthetic", "12", "--model", "dote",
                     "--also-train-on", "sndlib/abilene", "--out", str(tmp_path / "d.pt")]) == 2
    assert "one network's model" in capsys.readouterr().err
    assert cli_main(["train", "--topology", "sndlib/polska", "--n-synthetic", "12", "--model", "figret",
                     "--encoder", "mlp", "--feature-history", "3", "--out", str(tmp_path / "f.pt")]) == 2
    assert "--encoder, --feature-history: options of the per-flow routers" in capsys.readouterr().err
