"""qroute train on a topohub network: seeded gravity traffic when no --traffic is given."""
import json

import numpy as np

from qnn.cli import main
from qnn.models.checkpoint import topology_fingerprint
from qnn.models.dataset import load_dataset
from qnn.paths import k_shortest_paths
from topologies.traffic import gravity_traffic
from topologies.zoo import load_topohub

NETWORK = "sndlib/polska"  # 12 nodes: seconds to train


def test_training_traffic_is_the_gravity_model_of_its_own_seed_not_the_benchs():
    dataset = load_dataset(NETWORK, n_synthetic=6, traffic_seed=1)
    network = load_topohub(NETWORK)
    paths = k_shortest_paths(network, 3)
    expected = paths.demand_vector(gravity_traffic(network, 6, seed=1))
    np.testing.assert_allclose(dataset.demands, expected)
    benchs = paths.demand_vector(gravity_traffic(network, 6, seed=0))  # what qroute bench scores
    assert not np.allclose(dataset.demands, benchs)
    assert dataset.traffic_file == "gravity model, 6 matrices, seed 1" and dataset.files == {}


def test_train_then_bench_the_checkpoint_on_its_own_network(tmp_path, capsys):
    out = tmp_path / "qnn-polska.pt"
    assert main(["train", "--topology", NETWORK, "--n-synthetic", "12", "--epochs", "1", "--quiet",
                 "--out", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["topology"] == topology_fingerprint(load_topohub(NETWORK))
    assert "--n-synthetic 12 --traffic-seed 1" in meta["command"]  # the traffic, reproducibly
    summary = tmp_path / "bench.json"
    assert main(["bench", "--topology", NETWORK, "--setting", "predictive", "--limit", "4", "--methods",
                 "qnn-split", "--checkpoint", str(out), "--json", str(summary), "--no-progress"]) == 0
    method = json.loads(summary.read_text())["methods"]["qnn-split"]
    assert method["checkpoint_transferred"] is False


def test_synthetic_traffic_options_need_a_network_without_traffic(tmp_path, capsys):
    assert main(["train", "--topology", "abilene", "--traffic-seed", "2",
                 "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--traffic-seed draw traffic for a topohub network" in err
