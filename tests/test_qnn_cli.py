"""``qroute export-qasm`` and ``qroute train`` wiring (no real data needed)."""
from __future__ import annotations

import pytest

from qnn.checkpoint import save_checkpoint, topology_fingerprint
from qnn.train import build_model
from tests.qnn_helpers import tiny_network


def test_export_qasm_from_given_features(tmp_path, capsys):
    pytest.importorskip("qiskit")
    from qnn.cli import main

    router = build_model("qnn", 3, ("bottleneck", "share", "stretch", "split"), None, 2, 3, "crx", "residual", seed=0)
    ckpt = tmp_path / "qnn-tiny.pt"
    save_checkpoint(ckpt, router, {"topology": topology_fingerprint(tiny_network()), "k": 3, "setting": "predictive",
                                   "split": {"val_fraction": 0.25}})
    feats = ",".join(["0.5"] * 12)
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", feats, "--qasm", "2"]) == 0
    out = capsys.readouterr().out
    assert "OPENQASM 2.0" in out and "crx(" in out and out.count("measure") == 3
    dest = tmp_path / "c.qasm"
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", feats, "--out", str(dest)]) == 0
    assert "OPENQASM 3" in dest.read_text()
    assert main(["export-qasm", "--checkpoint", str(ckpt), "--features", "1,2"]) == 2


def test_train_subcommand_registered():
    from qnn.cli import build_parser

    args = build_parser("train").parse_args(["train", "--topology", "geant", "--out", "x.pt"])
    assert args.model == "qnn" and args.layers == 3 and args.rounds == 4 and callable(args.run)
