"""The Mininet topologies built from a topology file (no root: a Topo is only a graph until
Mininet starts it): switches, a host each, links and their shaped bandwidth per direction."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from tests.conftest import require_data_or_skip
from topologies.mininet_topos import GeantTopo, GraphTopo  # Mininet is installed by make, never optional

REPO = pathlib.Path(__file__).resolve().parents[1]
# Directed, ids sorted as numbers (7 < 20 < 300: s1, s2, s3), each direction its own capacity.
TRIANGLE = {"directed": True, "nodes": [{"id": 300}, {"id": 7}, {"id": 20}],
            "links": [{"source": 7, "target": 20, "capacity": 10e9},
                      {"source": 20, "target": 7, "capacity": 2.5e9},
                      {"source": 20, "target": 300, "capacity": 5e12},   # 5000 Mbit/s: clamped
                      {"source": 300, "target": 20, "capacity": 5e12},
                      {"source": 300, "target": 7, "capacity": 40e6},    # 0.04 Mbit/s: clamped
                      {"source": 7, "target": 300, "capacity": 40e6}]}
# (switch a, switch b) -> (bw sent from a, bw sent from b), Mbit/s
TRIANGLE_BW = {("s1", "s2"): (10.0, 2.5), ("s2", "s3"): (1000.0, 1000.0), ("s1", "s3"): (0.1, 0.1)}


def switch_links(topo) -> dict:
    """(a, b) -> (bw sent from a, bw sent from b) of every switch-to-switch link."""
    shaped = {}
    for a, b, info in topo.links(withInfo=True):
        if topo.isSwitch(a) and topo.isSwitch(b):
            (a, sent_a), (b, sent_b) = sorted([(info["node1"], info["params1"]["bw"]),
                                               (info["node2"], info["params2"]["bw"])])
            shaped[(a, b)] = (sent_a, sent_b)
    return shaped


@pytest.fixture
def triangle(tmp_path):
    path = tmp_path / "triangle.json"
    path.write_text(json.dumps(TRIANGLE))
    return str(path)


def test_a_file_becomes_switches_hosts_and_links_shaped_per_direction(triangle):
    topo = GraphTopo(triangle)
    assert sorted(topo.switches()) == ["s1", "s2", "s3"] and sorted(topo.hosts()) == ["h1", "h2", "h3"]
    assert topo.nodeInfo("h2")["ip"] == "10.0.0.2/24" and topo.nodeInfo("s3")["dpid"] == f"{3:016x}"
    assert switch_links(topo) == TRIANGLE_BW
    assert sorted(topo.clamped) == [(1, 3), (2, 3), (3, 1), (3, 2)]


def test_graph_without_a_file_says_what_it_needs():
    with pytest.raises(ValueError, match="needs a topology file: --topo graph,PATH"):
        GraphTopo()


def test_unshaped_links_carry_no_bandwidth(triangle):
    topo = GraphTopo(triangle, shaped=False)
    assert all("bw" not in info and "params1" not in info for _, _, info in topo.links(withInfo=True))


@pytest.mark.data
def test_geant_has_22_switches_and_its_capacities_scaled():
    require_data_or_skip("geant", "GEANT.json")
    topo = GeantTopo()
    shaped = switch_links(topo)
    assert len(topo.switches()) == 22 and len(shaped) == 36 and topo.clamped == []
    # GEANT.json: 0-2 at 10 Gbit/s, 0-15 at 2.4 Gbit/s, 1-13 at 155 Mbit/s
    assert (shaped[("s1", "s3")], shaped[("s1", "s16")], shaped[("s14", "s2")]) == \
        ((10.0, 10.0), (2.4, 2.4), (0.155, 0.155))


@pytest.mark.skipif(not shutil.which("mn"), reason="Mininet's mn is not installed")
def test_mn_custom_reads_a_file_under_debians_python(triangle):
    """`mn --custom` runs this file under /usr/bin/python3 (no numpy), executed without __file__,
    with the file's path relative to where mn runs."""
    script = ("import sys; customs = {}; path = sys.argv[1]\n"
              "exec(compile(open(path).read(), path, 'exec'), customs, customs)\n"
              "topo = customs['topos']['graph'](sys.argv[2])\n"
              "print(sorted(topo.switches()), len(topo.links()))\n")
    python = pathlib.Path(shutil.which("mn")).read_text().splitlines()[0].removeprefix("#!").split()[0]
    folder, name = os.path.split(triangle)
    done = subprocess.run([python, "-c", script, str(REPO / "topologies" / "mininet_topos.py"), name],
                          cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['s1', 's2', 's3'] 6"
