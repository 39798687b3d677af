"""``qroute bench`` and ``qroute train`` on topology files: the same figures as the named network,
Topology Zoo and SNDlib files from topohub's data end to end, and bad input as one line, exit 2."""
from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest

from qnn.bench.scenario import load_scenario
from tests.test_topology_files import _topohub_graph, sndlib_native_text


def _run(argv, capsys):
    from qnn.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ring_json(tmp_path):
    """A 4-node ring with string ids and two capacities, and its tunnels in those ids."""
    doc = {"directed": False, "nodes": [{"id": name} for name in ("nyc", "chi", "sea", "atl")],
           "links": [{"source": "nyc", "target": "chi", "capacity": 1e10},
                     {"source": "chi", "target": "sea", "capacity": 1e10},
                     {"source": "sea", "target": "atl", "capacity": 2.5e9},
                     {"source": "atl", "target": "nyc", "capacity": 2.5e9}]}
    path = tmp_path / "ring.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.data
def test_geant_file_gives_the_named_networks_paths_and_figures(data_dir):
    from qnn.bench.harness import run_bench
    from topologies.traffic import load_values

    geant = data_dir / "geant"
    by_name = load_scenario("geant")
    by_file = load_scenario(str(geant / "GEANT.json"), tms_path=geant / "tm-dev.hist",
                            tunnels=geant / "tunnels.txt")
    assert by_file.network.links == by_name.network.links
    assert np.array_equal(by_file.network.capacity, by_name.network.capacity)
    assert np.array_equal(by_file.network.weight, by_name.network.weight)
    assert by_file.pathset.demands == by_name.pathset.demands
    assert by_file.pathset.paths == by_name.pathset.paths
    assert np.array_equal(by_file.tms, by_name.tms)
    runs = [run_bench(s.network, s.pathset, s.tms[:12], ["lp", "spf", "ecmp"], "oracle", {}, progress=False)
            for s in (by_name, by_file)]
    for name in ("lp", "spf", "ecmp"):
        assert runs[0].traces[name].ratio == runs[1].traces[name].ratio
    # the LP reproduces GEANT's own optima file, matrix by matrix
    opt = load_values(geant / "tm-dev.opt")
    scored = runs[1].steps
    assert np.allclose(np.asarray(runs[1].optimum), opt[np.asarray(scored)], rtol=1e-6)


@pytest.mark.data
def test_geant_file_through_the_command_line(data_dir, capsys):
    geant = data_dir / "geant"
    code, out, _ = _run(["bench", "--topology", str(geant / "GEANT.json"),
                         "--tunnels", str(geant / "tunnels.txt"), "--tms", str(geant / "tm-dev.hist"),
                         "--setting", "oracle", "--methods", "lp", "--limit", "6", "--no-progress"], capsys)
    assert code == 0
    assert "22 nodes, 72 directed links" in out and "capacities: from the file" in out
    assert "tunnels from tunnels.txt (3 per pair)" in out
    lp_row = next(line for line in out.splitlines() if line.startswith("| lp |"))
    assert lp_row.split("|")[2].strip() == "1.0000"


def test_string_ids_tunnels_and_traffic_on_a_file(tmp_path):
    path = _ring_json(tmp_path)
    tunnels = tmp_path / "tunnels.txt"
    # index rule: atl=0, chi=1, nyc=2, sea=3
    tunnels.write_text("nyc sea:nyc-chi-sea,nyc-atl-sea\nsea nyc:sea-chi-nyc,sea-atl-nyc\n")
    tms = tmp_path / "tm.txt"
    matrix = np.zeros((4, 4))
    matrix[2, 3], matrix[3, 2] = 5e9, 1e9
    tms.write_text("\n".join(" ".join(f"{v:g}" for v in matrix.ravel()) for _ in range(3)) + "\n")
    scenario = load_scenario(str(path), tms_path=tms, k=2, tunnels=tunnels)
    assert scenario.pathset.demands == [(2, 3), (3, 2)]
    assert scenario.pathset.paths[0] == [(2, 1, 3), (2, 0, 3)]
    assert scenario.tms.shape == (3, 4, 4) and scenario.tms[0, 2, 3] == 5e9
    # traffic on a pair without a tunnel is refused, not dropped
    matrix[0, 1] = 1.0
    tms.write_text(" ".join(f"{v:g}" for v in matrix.ravel()) + "\n")
    with pytest.raises(ValueError, match="0->1|\\(0, 1\\)"):
        load_scenario(str(path), tms_path=tms, k=2, tunnels=tunnels)


@pytest.mark.parametrize("line, words", [
    ("nyc sea:nyc-sea", ["missing link nyc->sea"]),
    ("nyc bos:nyc-chi-bos", ["unknown node 'bos'", "not a node id"]),
])
def test_tunnel_errors_in_the_files_ids(tmp_path, capsys, line, words):
    path = _ring_json(tmp_path)
    tunnels = tmp_path / "tunnels.txt"
    tunnels.write_text(f"nyc chi:nyc-chi\n{line}\n")
    code, _, err = _run(["bench", "--topology", str(path), "--tunnels", str(tunnels), "--k", "1",
                         "--no-progress"], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and f"{tunnels}:2:" in err
    for word in words:
        assert word in err, err


def test_bad_inputs_are_one_line_and_exit_2(tmp_path, capsys):
    path = _ring_json(tmp_path)
    tms = tmp_path / "tm.txt"
    tms.write_text("0 " * 16 + "\n" + "0 " * 9 + "\n")
    code, _, err = _run(["bench", "--topology", str(path), "--tms", str(tms), "--no-progress"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"{tms}:2: expected 16 values (4x4), got 9" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": [{"id": 1}], "links": [{"source": 1, "target": 2}]}')
    code, _, err = _run(["bench", "--topology", str(broken), "--no-progress"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "names node 2, which is not a node" in err
    unknown = tmp_path / "net.graphml"
    unknown.write_text("nodes: a b\n")
    code, _, err = _run(["train", "--topology", str(unknown), "--traffic", str(tms), "--out",
                         str(tmp_path / "x.pt"), "--quiet"], capsys)
    assert code == 2 and "unknown topology format" in err
    code, _, err = _run(["train", "--topology", str(path), "--out", str(tmp_path / "x.pt"), "--quiet"],
                        capsys)
    assert code == 2 and "needs its traffic (--traffic FILE" in err


def _write_traffic(path, network, n, seed):
    from topologies.traffic import gravity_traffic

    tms = gravity_traffic(network, n, seed=seed)
    path.write_text("\n".join(" ".join(f"{v:.6g}" for v in tm.ravel()) for tm in tms) + "\n")
    return path


def _zoo_graphml(tmp_path):
    graph, _ = _topohub_graph("topozoo/Abilene")
    for i, (_, _, attrs) in enumerate(graph.edges(data=True)):
        attrs["LinkLabel"] = "10 Gbps" if i % 3 else "2.5 Gbps"
    path = tmp_path / "Abilene.graphml"
    nx.write_graphml(graph, path)
    return path


def _sndlib_file(tmp_path):
    topohub = pytest.importorskip("topohub")
    path = tmp_path / "abilene-sndlib.txt"
    path.write_text(sndlib_native_text(topohub.get("sndlib/abilene")))
    return path


@pytest.mark.parametrize("make", [_zoo_graphml, _sndlib_file], ids=["graphml", "sndlib"])
def test_topohub_files_through_bench_predictive_all_methods(tmp_path, capsys, make):
    path = make(tmp_path)
    code, out, err = _run(["bench", "--topology", str(path), "--setting", "predictive", "--limit", "4",
                           "--n-synthetic", "8", "--milp-time-limit", "1", "--no-progress",
                           "--json", str(tmp_path / "out.json")], capsys)
    assert code == 0, err
    assert "node id -> index (ids sorted)" in out and "candidate paths: k=3 shortest" in out
    summary = json.loads((tmp_path / "out.json").read_text())
    from qnn.bench.methods import DEFAULT_METHODS

    assert set(summary["methods"]) == set(DEFAULT_METHODS)
    # every routing over the candidate paths is at least the path-LP optimum (mcf, over all paths, is a bound)
    for name in set(DEFAULT_METHODS) - {"mcf", "milp"}:
        assert summary["methods"][name]["mlu_ratio"]["mean"] >= 1 - 1e-6, name
        assert summary["methods"][name]["n_scored"] == 3, name
    if path.suffix == ".txt":
        assert "SNDlib demands shaping the gravity model" in out


@pytest.mark.parametrize("make", [_zoo_graphml, _sndlib_file], ids=["graphml", "sndlib"])
def test_topohub_files_through_train(tmp_path, capsys, make):
    from topologies.files import read_topology

    path = make(tmp_path)
    traffic = _write_traffic(tmp_path / "tm.txt", read_topology(path).network, 12, seed=3)
    out_pt = tmp_path / "qnn-file.pt"
    code, out, err = _run(["train", "--topology", str(path), "--traffic", str(traffic), "--epochs", "2",
                           "--layers", "1", "--rounds", "1", "--max-minutes", "0.5", "--quiet",
                           "--out", str(out_pt)], capsys)
    assert code == 0, err
    assert "saved" in out and "node id -> index" in out
    sidecar = json.loads(out_pt.with_suffix(".json").read_text())
    assert sidecar["topology"]["n_nodes"] == read_topology(path).network.n_nodes
    assert path.name in sidecar["data_files"] and traffic.name in sidecar["data_files"]
    assert "--topology" in sidecar["command"] and str(path) in sidecar["command"]
    # the model trained on the file routes it in the bench
    code, out, err = _run(["bench", "--topology", str(path), "--tms", str(traffic), "--start", "8",
                           "--setting", "predictive", "--methods", "qnn-split,lp",
                           "--checkpoint", str(out_pt), "--no-progress"], capsys)
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("| qnn-split |"))
    assert float(row.split("|")[2]) >= 1 - 1e-6
