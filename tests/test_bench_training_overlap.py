"""qroute bench says so when a learned method is scored on the matrices it was trained on."""
import json
import pathlib

import pytest

import qnn
from qnn import cli

SHIPPED = str(pathlib.Path(qnn.__file__).parent / "checkpoints")

pytestmark = pytest.mark.data


def _bench(tmp_path, start):
    out = tmp_path / f"start{start}.json"
    code = cli.main(["bench", "--topology", "geant", "--setting", "predictive",
                     "--start", str(start), "--limit", "3", "--methods", "spf,mlp-split",
                     "--checkpoint", SHIPPED, "--no-progress", "--json", str(out)])
    assert code == 0
    return json.loads(out.read_text())["methods"]


def test_scoring_on_training_matrices_is_flagged(data_dir, tmp_path, capsys):
    methods = _bench(tmp_path, start=0)  # rows 1-2: training targets of the GEANT checkpoints
    assert methods["mlp-split"]["scored_on_training_matrices"] == 2
    assert "spf" in methods and "scored_on_training_matrices" not in methods["spf"]
    assert "mlp-split is scored on 2 of 2 matrices its checkpoint was trained on" in \
        capsys.readouterr().err


def test_validation_matrices_are_not_flagged(data_dir, tmp_path, capsys):
    methods = _bench(tmp_path, start=299)  # rows 300-301: validation targets
    assert "scored_on_training_matrices" not in methods["mlp-split"]
    assert "warning" not in capsys.readouterr().err
