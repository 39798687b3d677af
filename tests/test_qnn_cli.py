"""``qroute export-qasm`` and ``qroute train`` wiring (no real data needed)."""
from __future__ import annotations

import pytest

from qnn.models.checkpoint import save_checkpoint, topology_fingerprint
from qnn.models.train import build_model
from tests.qnn_helpers import tiny_network


def test_export_qasm_from_given_features(tmp_path, capsys):
    pytest.importorskip("qiskit")
    from qnn.cli import main

    router = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx", "residual",
                         seed=0)
    ckpt = tmp_path / "qnn-tiny.pt"
    save_checkpoint(ckpt, router, {"topology": topology_fingerprint(tiny_network()), "k": 3,
                                   "setting": "predictive", "split": {"val_fraction": 0.25}})
    feats = ",".join(["0.5"] * 12)
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", feats, "--qasm", "2"]) == 0
    out = capsys.readouterr().out
    assert "OPENQASM 2.0" in out and "crx(" in out and out.count("measure") == 3
    dest = tmp_path / "c.qasm"
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", feats, "--out", str(dest)]) == 0
    assert "OPENQASM 3" in dest.read_text()
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", "1,2"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "qroute export-qasm: error: --features needs 12 finite values (k=3 paths x 4 features: "
        "bottleneck, share, stretch, split)"]


def test_train_subcommand_runs_the_train_module_with_the_options_given():
    from qnn.cli import build_parser
    from qnn.models import train

    argv = ["train", "--topology", "geant", "--out", "x.pt",
            "--layers", "5", "--rounds", "2", "--model", "mlp"]
    args = build_parser(argv).parse_args(argv)
    assert args.run is train.run
    assert (args.topology, args.layers, args.rounds, args.model) == ("geant", 5, 2, "mlp")


def test_export_qasm_refuses_rounds_features_and_indices_out_of_range(tmp_path, capsys):
    pytest.importorskip("qiskit")
    from qnn.cli import main

    router = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx", "residual",
                         seed=0)
    ckpt = tmp_path / "qnn-tiny.pt"
    save_checkpoint(ckpt, router, {"topology": topology_fingerprint(tiny_network()), "k": 3})
    feats = ",".join(["0.5"] * 12)
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", feats, "--round", "3"]) == 2
    assert "rounds 0..2" in capsys.readouterr().err
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", "a,b"]) == 2
    assert "not a comma-separated list of numbers" in capsys.readouterr().err
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", ",".join(["nan"] * 12)]) == 2
    assert "finite values" in capsys.readouterr().err
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", feats,
                 "--out", str(tmp_path / "new" / "c.qasm")]) == 0
    assert "OPENQASM 3" in (tmp_path / "new" / "c.qasm").read_text()
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", feats,
                 "--out", str(ckpt / "c.qasm")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export-qasm", "--checkpoint", str(ckpt), "--matrix", "-1"])
    assert "--matrix" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--rounds", "0"], "--rounds"), (["--batch", "0"], "--batch"), (["--epochs", "0"], "--epochs"),
    (["--val-fraction", "1"], "--val-fraction"), (["--val-fraction", "nan"], "--val-fraction"),
    (["--beta", "0"], "--beta"), (["--clip", "-1"], "--clip"), (["--lr", "nan"], "--lr"),
    (["--threads", "0"], "--threads"), (["--history", "0"], "--history"), (["--k", "0"], "--k"),
    (["--max-minutes", "-1"], "--max-minutes"),
])
def test_train_refuses_numbers_out_of_range_by_option(argv, words, tmp_path, capsys):
    from qnn.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["train", "--topology", "abilene", "--out", str(tmp_path / "x.pt"), *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"qroute train: error: argument {words}: ")


@pytest.mark.parametrize("argv, words", [
    (["--out", "OUT.json"], "must end in .pt"),
    (["--out", "OUT/x.pt"], "is not a folder"),
    (["--model", "qnn", "--match-params", "50"], "--match-params sizes the MLP control"),
    (["--setting", "oracle", "--history", "3"], "--history is for the predictive setting"),
    (["--features", ","], "--features names no feature"),
])
def test_train_refuses_contradictory_options_before_loading_anything(argv, words, tmp_path, capsys):
    from qnn.cli import main

    (tmp_path / "x").write_text("")  # a file, so OUT/x.pt cannot be made
    argv = [a.replace("OUT", str(tmp_path / "x")) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "x.pt")]
    assert main(["train", "--topology", "abilene", *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("qroute train: error: ") and words in err


def test_train_on_too_few_or_empty_matrices_says_so(tmp_path, capsys):
    from qnn.cli import main

    two = tmp_path / "two.txt"
    two.write_text((" ".join(["1"] * 144) + "\n") * 2)
    zeros = tmp_path / "zeros.txt"
    zeros.write_text((" ".join(["0"] * 144) + "\n") * 8)
    base = ["train", "--topology", "abilene", "--epochs", "1", "--threads", "1", "--quiet"]
    assert main([*base, "--traffic", str(two), "--out", str(tmp_path / "a.pt")]) == 2
    assert "too few traffic matrices" in capsys.readouterr().err
    assert main([*base, "--traffic", str(zeros), "--out", str(tmp_path / "b.pt")]) == 2
    assert "carry no traffic (LP optimum 0" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.pt"))
