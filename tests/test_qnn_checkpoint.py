"""Checkpoint round trip and every bad-checkpoint case raising CheckpointError."""
from __future__ import annotations

import json

import pytest
import torch

from qnn.models.checkpoint import (CheckpointError, load_checkpoint, save_checkpoint, sidecar_path,
                                   topology_fingerprint)
from qnn.models.train import build_model
from tests.qnn_helpers import t, tiny_network, tiny_setup


@pytest.fixture(scope="module")
def tiny():
    return tiny_setup()


@pytest.fixture(params=["qnn", "mlp"])
def saved(request, tmp_path, tiny):
    net, ps, pt, dem, opt = tiny
    router = build_model(request.param, 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3,
                         "crx", "residual", seed=1)
    path = tmp_path / f"{request.param}-tiny.pt"
    save_checkpoint(path, router, {"topology": topology_fingerprint(net), "k": 3, "seed": 1,
                                   "data_files": {}, "validation": {"mean": 1.0}})
    return router, path


def test_round_trip_same_decisions_and_weights_only_loadable(saved, tiny):
    router, path = saved
    net, ps, pt, dem, _ = tiny
    state = torch.load(path, weights_only=True)
    assert set(state) == set(router.state_dict())
    loaded, meta = load_checkpoint(path, network=net, k=3)
    assert meta["model"]["kind"] == router.core.kind and meta["model"]["n_rounds"] == 3
    with torch.no_grad():
        assert torch.allclose(router(pt, t(dem[:3])), loaded(pt, t(dem[:3])), atol=1e-6)


def test_missing_weights(tmp_path):
    with pytest.raises(CheckpointError, match="not found") as err:
        load_checkpoint(tmp_path / "nope.pt")
    assert "nope.pt" in str(err.value)


def test_missing_sidecar(saved):
    _, path = saved
    sidecar_path(path).unlink()
    with pytest.raises(CheckpointError, match="sidecar not found"):
        load_checkpoint(path)


def test_corrupt_sidecar(saved):
    _, path = saved
    sidecar_path(path).write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)


def test_checksum_mismatch(saved):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_corrupt_bytes_with_matching_checksum(saved):
    """Garbage whose checksum was (re)recorded still fails cleanly at deserialisation."""
    import hashlib

    _, path = saved
    path.write_bytes(b"\x00garbage" * 10)
    meta = json.loads(sidecar_path(path).read_text())
    meta["weights_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar_path(path).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(path)


def test_wrong_topology(saved):
    _, path = saved
    other = tiny_network("other", extra_link=True)
    with pytest.raises(CheckpointError, match="topology 'tiny'.*'other'"):
        load_checkpoint(path, network=other)
    same_shape = tiny_network("tiny")
    same_shape.capacity = same_shape.capacity * 2
    with pytest.raises(CheckpointError, match="links or capacities changed"):
        load_checkpoint(path, network=same_shape)


def test_wrong_k(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="k=3.*k=2"):
        load_checkpoint(path, k=2)


def test_wrong_kind(saved):
    router, path = saved
    other = "mlp" if router.core.kind == "qnn" else "qnn"
    with pytest.raises(CheckpointError, match=f"{other!r} wanted"):
        load_checkpoint(path, kind=other)


def test_weights_not_fitting_the_described_model(saved):
    _, path = saved
    meta = json.loads(sidecar_path(path).read_text())
    if meta["model"]["kind"] == "qnn":
        meta["model"]["n_layers"] = 5
    else:
        meta["model"]["hidden"] = meta["model"]["hidden"] + 3
    sidecar_path(path).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


@pytest.mark.parametrize("edit, problem", [
    (lambda m: m.update(weights_sha256=5), "weights_sha256"),
    (lambda m: m.update(topology="abilene"), "'topology' must be an object"),
    (lambda m: m.update(model="qnn"), "'model' must be an object"),
    (lambda m: m["model"].update(kind="cnn"), "neither 'qnn' nor 'mlp'"),
    (lambda m: m["model"].update(n_rounds=0), "n_rounds must be a whole number"),
    (lambda m: m["model"].update(n_rounds="4"), "n_rounds must be a whole number"),
    (lambda m: m["model"].update(k=-1), "k must be a whole number"),
    (lambda m: m["model"].update(k=True), "k must be a whole number"),
    (lambda m: m["model"].update(features=[]), "features must be a non-empty list"),
    (lambda m: m.update(setting="zzz"), "setting 'zzz'"),
    (lambda m: m.update(history="abc"), "history must be a whole number"),
    (lambda m: m.update(history=-2), "history must be a whole number"),
    (lambda m: m.update(history_reduce=["mean"]), "history_reduce"),
    (lambda m: m.update(history_reduce="median"), "history_reduce 'median'"),
    (lambda m: m.update(data_files=["x"]), "'data_files' must be an object"),
    (lambda m: m.update(split="x"), "'split' must be an object"),
    (lambda m: m.update(split={"train_pairs": [5]}), "train_pairs"),
    (lambda m: m.update(split={"train_pairs": ["a", "b"]}), "train_pairs"),
])
def test_sidecar_fields_of_the_wrong_type_or_range_are_named_on_load(saved, edit, problem):
    _, path = saved
    meta = json.loads(sidecar_path(path).read_text())
    edit(meta)
    sidecar_path(path).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=problem) as err:
        load_checkpoint(path)
    assert str(sidecar_path(path)) in str(err.value)


def test_weights_that_are_not_finite_are_refused(tmp_path, tiny):
    net = tiny[0]
    router = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3,
                         "crx", "residual", seed=1)
    with torch.no_grad():
        next(router.parameters()).fill_(float("nan"))
    path = tmp_path / "qnn-diverged.pt"
    save_checkpoint(path, router, {"topology": topology_fingerprint(net), "k": 3})
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_checkpoint(path)


def test_a_damaged_sidecar_beside_a_good_checkpoint_does_not_stop_the_choice(tmp_path, tiny):
    from qnn.bench.learned_methods import choose_checkpoint

    net = tiny[0]
    for name, kind in (("a-broken", "qnn"), ("b-good", "qnn")):
        router = build_model(kind, 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3,
                             "crx", "residual", seed=1)
        save_checkpoint(tmp_path / f"{name}.pt", router, {"topology": topology_fingerprint(net), "k": 3})
    broken = json.loads((tmp_path / "a-broken.json").read_text())
    broken["model"] = "qnn"
    (tmp_path / "a-broken.json").write_text(json.dumps(broken))
    assert choose_checkpoint(tmp_path, "qnn", net.name).name == "b-good.pt"


def test_a_directory_serves_its_shipped_name_before_a_variant_saved_beside_it(tmp_path, tiny):
    """`qnn-tiny-a.pt` sorts before `qnn-tiny.pt` ('-' < '.'); both fit, the shipped name wins."""
    from qnn.bench.learned_methods import choose_checkpoint

    net = tiny[0]
    for name in ("qnn-tiny-a", "qnn-tiny", "qnn-tiny-single"):
        router = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 1, 1,
                             "crx", "residual", seed=0)
        save_checkpoint(tmp_path / f"{name}.pt", router, {"topology": topology_fingerprint(net), "k": 3,
                                                          "single_path": name.endswith("single")})
    assert choose_checkpoint(str(tmp_path), "qnn", "tiny").name == "qnn-tiny.pt"
    assert choose_checkpoint(str(tmp_path), "qnn", "tiny", True).name == "qnn-tiny-single.pt"
    # an explicit list keeps the order it was given in
    listed = f"{tmp_path / 'qnn-tiny-a.pt'},{tmp_path / 'qnn-tiny.pt'}"
    assert choose_checkpoint(listed, "qnn", "tiny").name == "qnn-tiny-a.pt"


def test_bench_method_picks_checkpoint_by_kind_topology_and_mode(tmp_path, tiny):
    from qnn.bench.learned_methods import choose_checkpoint

    net = tiny[0]
    made = {}
    for kind in ("qnn", "mlp"):
        for single in (False, True):
            r = build_model(kind, 3, ("bottleneck", "share", "stretch", "split"), None, 1, 1, "crx",
                            "residual", seed=0)
            name = f"{kind}-tiny{'-single' if single else ''}.pt"
            save_checkpoint(tmp_path / name, r, {"topology": topology_fingerprint(net), "k": 3,
                                                  "single_path": single})
            made[(kind, single)] = tmp_path / name
    other = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 1, 1, "crx", "residual",
                        seed=0)
    save_checkpoint(tmp_path / "qnn-aaa.pt", other, {"topology": {"name": "aaa"}, "k": 3})
    for kind in ("qnn", "mlp"):
        for single in (False, True):
            assert choose_checkpoint(str(tmp_path), kind, "tiny", single) == made[(kind, single)]
    # a single file of the other kind: its sibling with the kind swapped in the name
    assert choose_checkpoint(str(made[("qnn", False)]), "mlp", "tiny") == made[("mlp", False)]
    # only split checkpoints given: single-path methods fall back to their argmax
    both = f"{made[('qnn', False)]},{made[('mlp', False)]}"
    assert choose_checkpoint(both, "qnn", "tiny", True) == made[("qnn", False)]
    # in the oracle setting an oracle-trained checkpoint wins; without one the predictive one serves
    assert choose_checkpoint(str(tmp_path), "qnn", "tiny", False, "oracle") == made[("qnn", False)]
    r = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 1, 1, "crx", "residual",
                    seed=0)
    save_checkpoint(tmp_path / "qnn-tiny-oracle.pt", r, {"topology": topology_fingerprint(net), "k": 3,
                                                         "setting": "oracle"})
    assert choose_checkpoint(str(tmp_path), "qnn", "tiny", False, "oracle") == tmp_path / "qnn-tiny-oracle.pt"
    assert choose_checkpoint(str(tmp_path), "qnn", "tiny", False, "predictive") == made[("qnn", False)]


def test_model_config_sizes_the_mlp_to_the_asked_parameter_count():
    from qnn.models.checkpoint import build_router, model_config
    from qnn.models.router import n_params

    cfg = model_config("mlp", 3, ("bottleneck", "share", "stretch", "split"), match_params=61)
    # 61 = 12*3 + 3 + 3*3 + 3 + 1 (hidden 3: 52) + 9 per-input gains
    assert (cfg["hidden"], cfg["n_in_gain"], cfg["n_out_gain"]) == (3, 9, 0)
    assert n_params(build_router(cfg, seed=0)) == 61


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
def test_a_built_router_describes_itself_as_the_config_it_was_built_from(kind):
    from qnn.models.checkpoint import build_router, model_config

    cfg = model_config(kind, 3, ("bottleneck", "share", "split"), n_qubits=4, n_layers=2, n_rounds=5,
                       entangler="cnot", update="replace")
    assert build_router(cfg, seed=0).config() == cfg


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
def test_seeded_initial_weights_do_not_depend_on_the_global_rng(kind):
    from qnn.models.checkpoint import build_router, model_config

    cfg = model_config(kind, 3, ("bottleneck", "share", "stretch", "split"), n_layers=2, n_rounds=2)
    states = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        states.append(build_router(cfg, seed=7).state_dict())
    assert all(torch.equal(states[0][name], states[1][name]) for name in states[0])
    other = build_router(cfg, seed=8).state_dict()
    assert not all(torch.equal(states[0][name], other[name]) for name in other)


@pytest.mark.parametrize("args, names", [
    (("qnn", "abilene", True), ["qnn-abilene-single", "qnn-abilene"]),
    (("qnn", "abilene", True, "oracle"), ["qnn-abilene-single", "qnn-abilene"]),
    (("mlp", "geant", False, "oracle"), ["mlp-geant-oracle", "mlp-geant"]),
    (("mlp", "geant", False), ["mlp-geant"]),
])
def test_shipped_candidates_prefer_the_variant_trained_for_how_the_router_is_used(args, names):
    from qnn.models.checkpoint import shipped_candidates, shipped_checkpoint

    assert shipped_candidates(*args) == names
    assert shipped_checkpoint(*args) == names[0]


def test_every_shipped_checkpoint_is_what_its_name_says():
    from qnn.models.checkpoint import read_sidecar, shipped_candidates
    from tests.qnn_helpers import shipped_router_checkpoints

    shipped = shipped_router_checkpoints()
    assert shipped
    for path in shipped:
        meta = read_sidecar(path)
        single, setting = bool(meta.get("single_path")), meta.get("setting", "predictive")
        kind, network = meta["model"]["kind"], meta["topology"]["name"]
        assert path.stem == shipped_candidates(kind, network, single, setting)[0], path.name
