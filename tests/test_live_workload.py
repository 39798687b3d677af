"""The live comparison's traffic: largest demands, scaled to the requested OSPF overload."""
import json
import pathlib

import numpy as np
import pytest

from qnn.baselines import shortest_path_routing
from controller.lab.workload import PolicyRun, Workload, build_workload, first_unseen_matrix, format_table
from tests.conftest import require_data_or_skip
from topologies.abilene import load_abilene


def _ospf_mlu(workload, capacity_scale=1e-3):
    network = load_abilene()
    pairs = [(s, d) for s, d, _ in workload.flows]
    rates = np.array([mbps * 1e6 for _, _, mbps in workload.flows])
    return (shortest_path_routing(network, pairs).loads(rates)[0] / (network.capacity * capacity_scale)).max()


def test_synthetic_workload_without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("QROUTE_DATA_DIR", str(tmp_path / "absent"))
    workload = build_workload(10, 1.3, seed=4)
    assert "synthetic gravity traffic (seed 4" in workload.source
    assert len(workload.flows) == 10 and len({(s, d) for s, d, _ in workload.flows}) == 10
    rates = [mbps for _, _, mbps in workload.flows]
    assert rates == sorted(rates, reverse=True) and all(s != d for s, d, _ in workload.flows)
    assert _ospf_mlu(workload) == pytest.approx(1.3)
    # the LP can do what any single path does, and one path per flow can do what OSPF does
    assert 0 < workload.lp_mlu <= workload.single_path_mlu + 1e-9 <= 1.3 + 2e-9


SHIPPED = pathlib.Path(__file__).resolve().parents[1] / "qnn" / "checkpoints"


def _first_untrained_target(sidecar: pathlib.Path) -> int:
    """Read straight from the sidecar: the matrix the first validation pair is scored on
    (predictive pair i is scored on matrix i + 1, oracle pair i on matrix i), since the time
    split puts every validation pair after every training pair."""
    meta = json.loads(sidecar.read_text())
    lag = {"predictive": 1, "oracle": 0}[meta["setting"]]
    return meta["split"]["val_pairs"][0] + lag


@pytest.mark.parametrize("name", ["qnn-abilene-single", "qnn-abilene", "mlp-abilene-single",
                                  "qnn-abilene-oracle", "mlp-abilene-oracle"])
def test_first_unseen_matrix_follows_each_sidecars_training_split(name):
    assert first_unseen_matrix(name) == _first_untrained_target(SHIPPED / f"{name}.json")


@pytest.mark.data
def test_real_workload_comes_from_the_validation_part():
    from topologies.traffic import load_traffic_matrices

    path = require_data_or_skip("abilene", "tm-week1.txt")
    workload = build_workload(20, 1.3, seed=0)
    index = int(workload.source.split("matrix ")[1].split()[0])
    first = _first_untrained_target(SHIPPED / "qnn-abilene-single.json")  # the controller's checkpoint
    assert first_unseen_matrix() == first
    totals = load_traffic_matrices(path, 12).sum(axis=(1, 2))
    assert index >= first and totals[index] == totals[first:].max()  # the busiest unseen matrix
    assert _ospf_mlu(workload) == pytest.approx(1.3)
    # split routing could carry it all; one path per flow cannot quite (its optimum is ~1.01)
    assert workload.lp_mlu < 1.0 and workload.lp_mlu <= workload.single_path_mlu < 1.3


def test_live_table_averages_trials_and_shows_their_range():
    workload = Workload("test traffic", [(0, 1, 6.0), (1, 2, 4.0)], 1.3, 0.9, 1.0)
    runs = [PolicyRun("qnn", offered_mbps=10, delivered_mbps=8, loss_percent=[10.0, 30.0],
                      max_utilisation=0.9),
            PolicyRun("qnn", offered_mbps=10, delivered_mbps=9, loss_percent=[10.0, 10.0],
                      max_utilisation=0.95),
            PolicyRun("shortest-path", offered_mbps=6, delivered_mbps=3, loss_percent=[50.0],
                      failed_flows=1, unreported_mbps=4.0)]
    table = format_table(workload, runs)
    assert "| qnn | 2 | 85.0 (80.0–90.0) | 15.0 (10.0–20.0) | 20.0 (10.0–30.0) |" in table
    assert "| shortest-path | 1 | 50.0 | 50.0 | 50.0 |" in table
    assert runs[2].summary()["delivered_share_unreported_as_lost"] == 0.3  # 3 of 6 + 4 offered


def test_more_flows_than_demands_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("QROUTE_DATA_DIR", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="non-zero demands, not the 500 flows"):
        build_workload(500, 1.3, seed=4)


def test_a_checkpoint_without_a_training_split_has_no_first_unseen_matrix(tmp_path):
    import json
    import shutil

    from qnn.models.checkpoint import SHIPPED_DIR, CheckpointError

    for suffix in (".pt", ".json"):
        shutil.copy(SHIPPED_DIR / f"qnn-abilene-single{suffix}", tmp_path / f"no-split{suffix}")
    side = tmp_path / "no-split.json"
    meta = json.loads(side.read_text())
    del meta["split"]
    side.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="no training split"):
        first_unseen_matrix(str(tmp_path / "no-split.pt"))
