"""DOTE / FIGRET: the realised MLU against hand-computed loads, the per-pair split, FIGRET's
term, the topology-specific checkpoint, a short training run and the bench methods."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qnn.cli import main as cli_main
from qnn.errors import CheckpointError
from qnn.models.dataset import time_split
from qnn.models.dote import (DoteNet, LoadedDote, dote_loss, evaluate_dote, figret_loss, fit_dote,
                             history_windows, load_dote_checkpoint, pair_std, pairs_digest, per_pair_split,
                             realised_mlu, recent_window, robustness_term, save_dote_checkpoint)
from qnn.models.checkpoint import topology_fingerprint
from qnn.models.router import PathTensors
from qnn.network import Network
from qnn.paths import PathSet, k_shortest_paths
from tests.qnn_helpers import t, tiny_network, tiny_setup


def triangle():
    """Nodes 0, 1, 2; pair 0->2 over 0-2 or 0-1-2, pair 0->1 over 0-1 or 0-2-1."""
    links = [(0, 1), (1, 2), (0, 2), (2, 1), (1, 0), (2, 0)]
    cap = np.array([10.0, 5.0, 20.0, 2.0, 1.0, 1.0])
    net = Network("triangle", [0, 1, 2], links, cap, np.ones(len(links)))
    ps = PathSet(net, [(0, 2), (0, 1)], [[(0, 2), (0, 1, 2)], [(0, 1), (0, 2, 1)]], 2)
    return net, ps


def test_realised_mlu_is_the_hand_computed_busiest_link_and_its_gradient_flows_through_it():
    net, ps = triangle()
    pt = PathTensors(ps)
    demand = t([[6.0, 4.0]])
    split = t([[[0.5, 0.5], [0.25, 0.75]]]).requires_grad_()
    # loads: 0->1 3+1=4 (/10), 1->2 3 (/5), 0->2 3+3=6 (/20), 2->1 3 (/2): the busiest is 2->1 at 1.5
    assert torch.allclose(pt.utilisation(demand, split)[0, :4], t([0.4, 0.6, 0.3, 1.5]))
    mlu = realised_mlu(pt, demand, split)
    assert float(mlu.detach()) == pytest.approx(1.5)
    mlu.sum().backward()
    # only pair 0->1's second path (0-2-1) crosses 2->1: d MLU / d split = 4 / 2
    assert torch.allclose(split.grad, t([[[0.0, 0.0], [0.0, 2.0]]]))
    assert float(dote_loss(pt, demand, split, t([1.2])).detach()) == pytest.approx(1.25)


def test_per_pair_split_is_nonnegative_sums_to_one_and_leaves_missing_paths_empty():
    mask = torch.tensor([[True, True, True], [True, False, False], [True, True, False]])
    weights = torch.rand(5, 3, 3, generator=torch.Generator().manual_seed(0))
    weights[0, 0] = 0.0  # a pair whose sigmoids all vanish stays splittable (evenly)
    split = per_pair_split(weights, mask)
    assert torch.all(split >= 0)
    assert torch.allclose(split.sum(-1), torch.ones(5, 3))
    assert torch.all(split[:, ~mask] == 0)
    assert torch.allclose(split[0, 0], torch.full((3,), 1 / 3))
    assert torch.allclose(split[:, 1, 0], torch.ones(5))  # one path: all of it
    expected = weights[2, 2, :2] / weights[2, 2, :2].sum()  # proportional to the weights
    assert torch.allclose(split[2, 2, :2], expected, atol=1e-6)


def test_dote_net_outputs_split_ratios_that_ignore_a_common_scale_of_the_traffic():
    net, ps, pt, dem, _ = tiny_setup()
    model = DoteNet(ps.n_demands, ps.k, history=3, n_hidden=2, seed=0)
    x = t(history_windows(dem, 3)[:4])
    split = model(x, pt.mask)
    assert split.shape == (4, ps.n_demands, ps.k)
    assert torch.allclose(split.sum(-1), torch.ones(4, ps.n_demands), atol=1e-6)
    assert torch.allclose(model(8 * x, pt.mask), split, atol=1e-6)


def test_history_windows_hold_the_last_h_rows_oldest_first_repeating_the_first():
    demands = np.array([[1.0], [2.0], [3.0], [4.0]])
    assert history_windows(demands, 3)[:, :, 0].tolist() == [[1, 1, 1], [1, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert recent_window(demands[:2], 3)[:, 0].tolist() == [1, 1, 2]
    assert recent_window(demands, 2)[:, 0].tolist() == [3, 4]


def test_figret_term_by_hand_and_alpha_zero_is_the_dote_loss():
    net, ps = triangle()
    pt = PathTensors(ps)
    demand, opt = t([[6.0, 4.0]]), t([1.2])
    split = t([[[0.6, 0.4], [0.25, 0.75]]])
    std = t([2.0, 1.0])
    # largest ratio per pair (0.6, 0.75) x std (2, 1), averaged over the 2 pairs
    assert float(robustness_term(split, std)) == pytest.approx((0.6 * 2 + 0.75 * 1) / 2)
    assert torch.equal(figret_loss(pt, demand, split, opt, std, 0.0), dote_loss(pt, demand, split, opt))
    # the term over its own detached value is 1: the loss value is DOTE's plus alpha
    assert float(figret_loss(pt, demand, split, opt, std, 0.1)) == pytest.approx(1.25 + 0.1)
    # ...but its gradient pushes towards even splits of the volatile pairs
    s = split.clone().requires_grad_()
    (figret_loss(pt, demand, s, opt, std, 0.1) - dote_loss(pt, demand, s, opt)).sum().backward()
    assert s.grad[0, 0, 0] > 0 and s.grad[0, 1, 1] > 0 and s.grad[0, 0, 1] == 0


def test_pair_std_is_in_units_of_the_mean_demand():
    d = np.array([[1.0, 10.0], [3.0, 10.0]])
    assert np.allclose(pair_std(d), [1.0 / 6.0, 0.0])
    assert np.allclose(pair_std(5 * d), pair_std(d))


def _saved(tmp_path, kind="dote", name="tiny"):
    net, ps, pt, dem, opt = tiny_setup(name=name)
    model = DoteNet(ps.n_demands, ps.k, history=3, n_hidden=2, kind=kind, seed=1)
    path = tmp_path / f"{kind}-{name}.pt"
    save_dote_checkpoint(path, model, {"topology": topology_fingerprint(net), "alpha": 0.0,
                                       "pairs_sha256": pairs_digest(ps), "data_files": {},
                                       "validation": {"mean": 1.0}})
    return model, path, (net, ps, pt, dem, opt)


def test_checkpoint_round_trip_decides_the_same_and_the_sidecar_says_it_is_topology_specific(tmp_path):
    model, path, (net, ps, pt, dem, _) = _saved(tmp_path)
    loaded, meta = load_dote_checkpoint(path, net, ps)
    x = t(history_windows(dem, 3)[:5])
    with torch.no_grad():
        assert torch.allclose(model(x, pt.mask), loaded(x, pt.mask))
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["topology_specific"] is True and side["topology"]["name"] == "tiny"
    assert side["model"]["n_pairs"] == ps.n_demands == 30 and side["model"]["history"] == 3
    assert side["n_params"] == sum(p.numel() for p in model.parameters())
    decided = LoadedDote(path, net, ps).decide(dem[:2])  # fewer matrices than its history
    assert decided.shape == (ps.n_demands, ps.k) and np.allclose(decided.sum(-1), 1.0, atol=1e-6)


def test_a_checkpoint_on_another_network_or_path_set_is_refused_in_words(tmp_path):
    _, path, (net, ps, *_) = _saved(tmp_path)
    other = tiny_network(extra_link=True)
    with pytest.raises(CheckpointError, match="topology-specific: trained on 'tiny'"):
        load_dote_checkpoint(path, other, k_shortest_paths(other, 3, weight="hops"))
    with pytest.raises(CheckpointError, match="trained for 30 pairs x k=3"):
        load_dote_checkpoint(path, net, k_shortest_paths(net, 2, weight="hops"))
    with pytest.raises(CheckpointError, match="other candidate paths"):
        load_dote_checkpoint(path, net, k_shortest_paths(net, 3, weight="hops", disjoint=True))
    with pytest.raises(CheckpointError, match="holds a 'dote' model, 'figret' wanted"):
        load_dote_checkpoint(path, net, ps, kind="figret")


def test_a_changed_weights_file_is_refused(tmp_path):
    _, path, (net, ps, *_) = _saved(tmp_path)
    path.write_bytes(path.read_bytes()[:-4] + b"oops")
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_dote_checkpoint(path, net, ps)


def test_bench_methods_route_with_the_checkpoint_and_refuse_another_network(tmp_path):
    from qnn.bench.harness import format_table, run_bench

    _, path, (net, ps, _, dem, _) = _saved(tmp_path)
    tms = np.zeros((4, 6, 6))
    for i, (s, d) in enumerate(ps.demands):
        tms[:, s, d] = dem[:4, i]
    summary = run_bench(net, ps, tms, ["dote", "spf"], "predictive", {"checkpoint": str(tmp_path)},
                        progress=False).summary()
    dote = summary["methods"]["dote"]
    assert dote["n_scored"] == 3 and dote["mlu_ratio"]["mean"] >= 1.0 - 1e-6
    assert dote["n_params"] == json.loads(path.with_suffix(".json").read_text())["n_params"]
    assert f"| {dote['n_params']:,} |" in format_table(summary)
    other = tiny_network(extra_link=True)
    with pytest.raises(CheckpointError, match="topology-specific"):
        run_bench(other, k_shortest_paths(other, 3, weight="hops"), np.ones((3, 6, 6)), ["dote"],
                  "predictive", {"checkpoint": str(path)}, progress=False)


@pytest.mark.parametrize("kind, alpha", [("dote", 0.0), ("figret", 0.5)])
def test_a_short_seeded_training_run_lowers_the_validation_mlu(kind, alpha):
    torch.manual_seed(0)
    net, ps, pt, dem, opt = tiny_setup(n_tms=40)
    windows, targets, optima = history_windows(dem, 3)[:-1], dem[1:], opt[1:]
    tr, va = time_split(len(windows), 0.25)
    model = DoteNet(ps.n_demands, ps.k, history=3, n_hidden=2, kind=kind, seed=0)
    before = evaluate_dote(model, pt, t(windows[va]), t(targets[va]), t(optima[va])).mean()
    best, _ = fit_dote(model, pt, (windows[tr], targets[tr], optima[tr]),
                       (windows[va], targets[va], optima[va]), pair_std(dem[: tr[-1] + 2]), alpha,
                       epochs=15, lr=1e-2, batch=4, patience=15, seed=0)
    after = evaluate_dote(model, pt, t(windows[va]), t(targets[va]), t(optima[va])).mean()
    assert after == pytest.approx(best["mean"])  # the best epoch's weights are the ones kept
    assert after < before - 1e-3
    assert after >= 1.0 - 1e-4  # cannot beat the LP optimum


def test_alpha_belongs_to_figret(tmp_path, capsys):
    argv = ["train", "--topology", "abilene", "--alpha", "0.1", "--out", str(tmp_path / "x.pt")]
    assert cli_main(argv + ["--model", "dote"]) == 2
    assert "--model figret" in capsys.readouterr().err
    assert cli_main(argv + ["--model", "qnn"]) == 2
    assert "needs --model figret" in capsys.readouterr().err


@pytest.mark.data
@pytest.mark.parametrize("network", ["geant", "abilene"])
@pytest.mark.parametrize("kind", ["dote", "figret"])
def test_shipped_checkpoints_route_their_network_and_only_it(data_dir, network, kind):
    from qnn.bench.learned_methods import DoteRouting
    from qnn.bench.scenario import load_scenario

    scenario = load_scenario(network)
    method = DoteRouting(scenario.pathset, scenario.network, {}, kind)
    assert method.checkpoint.name == f"{kind}-{network}.pt" and method.trained_on == network
    assert method.meta["topology_specific"] is True and method.meta["history"] == 12
    other = load_scenario("abilene" if network == "geant" else "geant")
    with pytest.raises(CheckpointError, match="topology-specific"):
        DoteRouting(other.pathset, other.network, {"checkpoint": str(method.checkpoint)}, kind)


@pytest.mark.data
@pytest.mark.parametrize("name", ["dote-geant", "figret-geant", "dote-abilene", "figret-abilene"])
def test_shipped_checkpoint_reproduces_its_validation_figures_after_every_training_target(name):
    from qnn.models.checkpoint import SHIPPED_DIR
    from qnn.models.dataset import load_dataset
    from qnn.problems import DEFAULT_TRAFFIC
    from tests.conftest import require_data_or_skip

    network = name.split("-")[1]
    require_data_or_skip(*DEFAULT_TRAFFIC[network])
    ds = load_dataset(network)
    model, meta = load_dote_checkpoint(SHIPPED_DIR / f"{name}.pt", ds.network, ds.pathset)
    assert meta["input_size"] == 12 * ds.pathset.n_demands and meta["model"]["kind"] == name.split("-")[0]
    windows, targets, optima = history_windows(ds.demands, 12)[:-1], ds.demands[1:], ds.opt[1:]
    tr, va = time_split(len(windows), meta["split"]["val_fraction"])
    assert [int(tr[0]), int(tr[-1])] == meta["split"]["train_pairs"]
    assert tr[-1] + 1 < va[0] + 1 and va[-1] + 1 == len(ds.demands) - 1  # targets: train < validation
    ratios = evaluate_dote(model, PathTensors(ds.pathset), t(windows[va]), t(targets[va]), t(optima[va]))
    assert len(ratios) == meta["validation"]["n"]
    assert ratios.mean() == pytest.approx(meta["validation"]["mean"], abs=1e-4)
    assert ratios.max() == pytest.approx(meta["validation"]["max"], abs=1e-4)
