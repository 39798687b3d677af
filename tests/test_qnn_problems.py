"""Which network, candidate paths and real traffic a name means (shared by bench and training)."""
from __future__ import annotations

import json
import pathlib

import pytest

from qnn.problems import candidate_pathset, default_traffic_file, load_network
from tests.qnn_helpers import tiny_network

SHIPPED = pathlib.Path(__file__).resolve().parents[1] / "qnn" / "checkpoints"


def test_default_traffic_files_under_a_given_data_directory(tmp_path):
    assert default_traffic_file("abilene", tmp_path) == tmp_path / "abilene" / "tm-week1.txt"
    assert default_traffic_file("GEANT", tmp_path) == tmp_path / "geant" / "tm-dev.hist"
    assert default_traffic_file("polska", tmp_path) is None  # topohub graphs: synthetic traffic


def test_a_missing_default_data_directory_is_named(tmp_path, monkeypatch):
    from topologies.datadir import DataUnavailableError

    monkeypatch.setenv("QROUTE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataUnavailableError, match="nowhere"):
        default_traffic_file("abilene")


def test_the_abilene_path_rule_is_the_one_its_shipped_checkpoints_record():
    recorded = json.loads((SHIPPED / "qnn-abilene.json").read_text())["paths"]
    pathset, rule = candidate_pathset("abilene", load_network("abilene"), 3)
    assert rule == recorded == "k=3 shortest loop-free paths by OSPF weight"
    assert pathset.k == 3 and pathset.n_demands == 12 * 11


def test_hop_paths_of_a_small_network_by_hand():
    net = tiny_network()  # ring 0-1-2-3-4-5 with chords 0-3 and 1-4
    pathset, rule = candidate_pathset("tiny", net, 2, "hops")
    assert rule == "k=2 shortest loop-free paths by hops"
    # 0 and 2 share the neighbours 1 and 3: exactly two 2-hop paths, nothing shorter
    assert set(pathset.paths[pathset.demands.index((0, 2))]) == {(0, 1, 2), (0, 3, 2)}


@pytest.mark.parametrize("paths, words", [("tunnels", "only geant has given tunnels"),
                                          ("widest", "unknown path choice 'widest'")])
def test_path_rules_that_do_not_apply_are_refused(paths, words):
    with pytest.raises(ValueError, match=words):
        candidate_pathset("tiny", tiny_network(), 3, paths)


@pytest.mark.data
def test_training_and_bench_refuse_the_same_geant_k():
    from qnn.bench.scenario import load_scenario
    from qnn.models.dataset import load_dataset
    from tests.conftest import require_data_or_skip

    require_data_or_skip("geant", "tunnels.txt")
    recorded = json.loads((SHIPPED / "qnn-geant.json").read_text())["paths"]
    assert candidate_pathset("geant", load_network("geant"), 3)[1] == recorded
    for load in (lambda: load_scenario("geant", k=2), lambda: load_dataset("geant", k=4)):
        with pytest.raises(ValueError, match="3 paths per pair"):
            load()
