"""A checkpoint applied to a network it was not trained on (same k): the bench runs it and says so."""
import json
import pathlib

import numpy as np
import pytest

import qnn
from qnn.bench.harness import format_table, run_bench
from qnn.cli import main
from qnn.loads import link_loads, mlu
from qnn.lp import path_lp
from qnn.paths import k_shortest_paths
from topologies.abilene import load_abilene
from topologies.traffic import gravity_traffic
from topologies.zoo import load_topohub

SHIPPED = pathlib.Path(qnn.__file__).parent / "checkpoints"


def _sidecar_network(name: str) -> str:
    return json.loads((SHIPPED / f"{name}.json").read_text())["topology"]["name"]


@pytest.fixture(scope="module")
def polska():
    net = load_topohub("polska")
    return net, k_shortest_paths(net, 3), gravity_traffic(net, 4, seed=1)


def _table_row(table: str, method: str) -> str:
    rows = [line for line in table.splitlines() if line.startswith(f"| {method} ")]
    assert len(rows) == 1, table
    return rows[0]


def test_a_checkpoint_of_another_network_routes_it_and_the_results_name_that_network(polska):
    net, ps, tms = polska
    result = run_bench(net, ps, tms, ["spf", "qnn-split"], "oracle", {"checkpoint": "qnn-geant"},
                       progress=False)
    summary = result.summary()
    learned = summary["methods"]["qnn-split"]
    assert _sidecar_network("qnn-geant") == "geant"
    assert learned["checkpoint_trained_on"] == "geant" and learned["checkpoint_transferred"] is True
    assert "checkpoint_trained_on" not in summary["methods"]["spf"]
    assert "| qnn-split (trained on geant) |" in format_table(summary)
    assert json.loads(json.dumps(summary))["methods"]["qnn-split"]["checkpoint_trained_on"] == "geant"

    # the figures are those of GEANT's weights on this network, computed here without the bench
    from qnn.models.checkpoint import load_checkpoint
    from qnn.models.router import PathTensors

    import torch

    router, _ = load_checkpoint("qnn-geant")
    demand = ps.demand_vector(tms)
    with torch.no_grad():
        split = router(PathTensors(ps), torch.as_tensor(demand[1:], dtype=torch.float32)).numpy()
    expected = [mlu(link_loads(ps, d, s.astype(float))[0], net.capacity) / path_lp(ps, d).mlu
                for d, s in zip(demand[1:], split)]
    np.testing.assert_allclose(result.traces["qnn-split"].ratio, expected, rtol=1e-6)


def test_one_bench_runs_a_learned_method_on_two_checkpoints_side_by_side(polska):
    """``METHOD@CHECKPOINT`` beside METHOD on ``--checkpoint``'s: each row is its own
    checkpoint's, with the figures that checkpoint gives run alone."""
    net, ps, tms = polska
    both = run_bench(net, ps, tms, ["qnn-split", "qnn-split@qnn-geant"], "oracle",
                     {"checkpoint": "qnn-abilene"}, progress=False)
    alone = run_bench(net, ps, tms, ["qnn-split"], "oracle", {"checkpoint": "qnn-geant"},
                      progress=False)
    rows = both.summary()["methods"]
    assert rows["qnn-split"]["checkpoint_trained_on"] == "abilene"
    assert rows["qnn-split@qnn-geant"]["checkpoint_trained_on"] == "geant"
    np.testing.assert_allclose(both.traces["qnn-split@qnn-geant"].ratio, alone.traces["qnn-split"].ratio,
                               rtol=1e-9)
    assert not np.allclose(both.traces["qnn-split"].ratio, alone.traces["qnn-split"].ratio)
    assert "| qnn-split@qnn-geant (trained on geant) |" in format_table(both.summary())


def test_the_same_network_is_named_and_not_marked():
    net = load_abilene()
    ps = k_shortest_paths(net, 3)
    tms = gravity_traffic(net, 3, seed=2)
    for options in ({"checkpoint": "mlp-abilene"}, {}):  # named, and the default for the network
        summary = run_bench(net, ps, tms, ["mlp-split"], "oracle", options, progress=False).summary()
        learned = summary["methods"]["mlp-split"]
        assert learned["checkpoint_trained_on"] == "abilene" and learned["checkpoint_transferred"] is False
        row = _table_row(format_table(summary), "mlp-split")
        assert "trained on" not in row


def test_the_default_checkpoint_must_match_the_network():
    from qnn.errors import CheckpointError

    net = load_abilene()
    net.capacity = net.capacity * 2  # another network under the same name
    ps = k_shortest_paths(net, 3)
    with pytest.raises(CheckpointError, match="links or capacities changed"):
        run_bench(net, ps, gravity_traffic(net, 2, seed=0), ["mlp-split"], "oracle", {}, progress=False)
    # named explicitly it is a transfer, and marked as one
    summary = run_bench(net, ps, gravity_traffic(net, 2, seed=0), ["mlp-split"], "oracle",
                        {"checkpoint": "mlp-abilene"}, progress=False).summary()
    assert "| mlp-split (trained on abilene) |" in format_table(summary)


def test_cli_transfer_json_and_table(tmp_path, capsys):
    out = tmp_path / "out.json"
    code = main(["bench", "--topology", "polska", "--n-synthetic", "3", "--setting", "predictive",
                 "--methods", "ecmp,mlp,mlp-split", "--checkpoint", "mlp-geant-single,mlp-abilene",
                 "--json", str(out), "--no-progress"])
    assert code == 0
    methods = json.loads(out.read_text())["methods"]
    assert methods["mlp"]["checkpoint_trained_on"] == "geant"
    assert pathlib.Path(methods["mlp"]["checkpoint"]).name == "mlp-geant-single.pt"
    assert methods["mlp-split"]["checkpoint_trained_on"] == "abilene"
    table = capsys.readouterr().out
    assert "| mlp (trained on geant) |" in table and "| mlp-split (trained on abilene) |" in table
    assert "| ecmp |" in table


def test_cli_refuses_another_k_in_one_line(capsys):
    code = main(["bench", "--topology", "polska", "--n-synthetic", "3", "--k", "2",
                 "--methods", "qnn-split", "--checkpoint", "qnn-geant", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("qroute bench: error: ")
    assert "qnn-geant.pt: trained for k=3 candidate paths, this path set has k=2" in err


@pytest.mark.parametrize("single_path, setting, expected", [
    (False, "predictive", "qnn-abilene.pt"),
    (True, "predictive", "qnn-abilene-single.pt"),
    (False, "oracle", "qnn-abilene-oracle.pt"),
])
def test_a_directory_of_other_networks_checkpoints_gives_the_one_trained_for_the_method(
        single_path, setting, expected):
    from qnn.bench.learned_methods import choose_checkpoint

    assert choose_checkpoint(SHIPPED, "qnn", "germany50", single_path, setting).name == expected
