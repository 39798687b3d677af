"""topologies.catalog: the link facts the controller and Mininet take from a named network or a
topology file (dpid = node index + 1), the tunnels as switch paths, and TCLink's bandwidths."""
from __future__ import annotations

import json

import pytest

from tests.conftest import require_data_or_skip
from topologies.catalog import MININET_BW_RANGE_MBPS, link_facts, mininet_bandwidth, tunnel_paths

# A five-node ring, undirected, ids sorted as strings: A..E are nodes 0..4, dpids 1..5.
RING = {"directed": False, "multigraph": False, "graph": {"name": "ring5"},
        "nodes": [{"id": "C"}, {"id": "A"}, {"id": "E"}, {"id": "B"}, {"id": "D"}],
        "links": [{"source": "A", "target": "B", "capacity": 10e9, "weight": 1},
                  {"source": "B", "target": "C", "capacity": 2.5e9, "weight": 4},
                  {"source": "C", "target": "D", "capacity": 10e9, "weight": 1},
                  {"source": "D", "target": "E", "capacity": 1e9, "weight": 10},
                  {"source": "E", "target": "A", "capacity": 40e9, "weight": 2}]}
# (src dpid, dst dpid) -> (Mbit/s at the Mininet scale 1e-3, OSPF weight), both directions
RING_FACTS = {(1, 2): (10.0, 1.0), (2, 3): (2.5, 4.0), (3, 4): (10.0, 1.0), (4, 5): (1.0, 10.0),
              (5, 1): (40.0, 2.0)}
RING_FACTS.update({(b, a): fact for (a, b), fact in list(RING_FACTS.items())})


def write_ring(tmp_path, doc=RING) -> str:
    path = tmp_path / "ring5.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_topology_file_gives_dpids_by_sorted_id_scaled_capacities_and_its_weights(tmp_path):
    facts = link_facts(write_ring(tmp_path), 1e-3)
    assert {(src, dst): (round(bps / 1e6, 9), weight) for src, dst, bps, weight in facts} == RING_FACTS
    assert len(facts) == len(RING_FACTS)


def test_abilene_facts_are_the_shipped_ones():
    facts = {(src, dst): (bps, weight) for src, dst, bps, weight in link_facts("abilene", 1.0)}
    assert len(facts) == 30
    assert facts[(2, 6)] == (2.48e9, 587.0)  # Atlanta -> Indianapolis, the 2.5 Gbit/s link
    assert facts[(3, 6)] == (9.92e9, 260.0)  # Chicago -> Indianapolis


@pytest.mark.data
def test_geant_facts_come_from_its_file_with_inverse_capacity_weights():
    path = require_data_or_skip("geant", "GEANT.json")
    doc = json.loads(path.read_text())
    # Cisco's rule, 10 Gbit/s reference: 10 Gbit/s -> 1, 2.4 Gbit/s -> 4, 155 Mbit/s -> 65
    weight_of = {10e9: 1.0, 2.4e9: 4.0, 155e6: 65.0}
    expected = {(link["source"] + 1, link["target"] + 1):
                (round(link["capacity"] / 1e3), weight_of[link["capacity"]]) for link in doc["links"]}
    facts = link_facts("geant", 1e-3)
    assert {(src, dst): (round(bps), weight) for src, dst, bps, weight in facts} == expected
    assert len(facts) == 72 and {dpid for fact in facts for dpid in fact[:2]} == set(range(1, 23))


@pytest.mark.data
def test_geant_tunnels_become_dpid_paths():
    path = require_data_or_skip("geant", "tunnels.txt")
    tunnels = tunnel_paths("geant", str(path))
    assert len(tunnels) == 22 * 21
    # tunnels.txt's first line: 0 1:0-2-6-1,0-4-6-1,0-4-14-1
    assert tunnels[(1, 2)] == [(1, 3, 7, 2), (1, 5, 7, 2), (1, 5, 15, 2)]


def test_tunnels_over_a_missing_link_are_refused(tmp_path):
    tunnels = tmp_path / "tunnels.txt"
    tunnels.write_text("A B:A-B\nA C:A-C\n")  # A-C is not a link of the ring
    with pytest.raises(ValueError, match=r"tunnels.txt:2: .*missing link"):
        tunnel_paths(write_ring(tmp_path), str(tunnels))


def test_a_files_tunnels_name_its_own_node_ids(tmp_path):
    tunnels = tmp_path / "tunnels.txt"
    tunnels.write_text("A C:A-B-C,A-E-D-C\nD B:D-C-B\n")
    assert tunnel_paths(write_ring(tmp_path), str(tunnels)) == {(1, 3): [(1, 2, 3), (1, 5, 4, 3)],
                                                                (4, 2): [(4, 3, 2)]}


def test_a_missing_file_or_unknown_name_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such topology file"):
        link_facts(str(tmp_path / "absent.json"), 1.0)
    with pytest.raises(FileNotFoundError, match="known names: abilene, geant"):
        link_facts("nsfnet", 1.0)


def test_a_malformed_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"nodes": [\n{"id": 1},\n')
    with pytest.raises(ValueError, match=r"broken.json:\d+: "):
        link_facts(str(path), 1.0)


@pytest.mark.parametrize("capacity_bps, scale, expected", [
    (10e9, 1e-3, (10.0, False)),
    (155e6, 1e-3, (0.155, False)),       # GEANT's smallest links
    (100e9, 1e-3, (100.0, False)),
    (2e12, 1e-3, (1000.0, True)),        # past what TCLink shapes
    (1e6, 1e-3, (0.1, True)),            # 1 kbit/s: under the floor
    (10e9, 1.0, (1000.0, True)),
])
def test_mininet_bandwidth_scales_and_clamps(capacity_bps, scale, expected):
    bw, clamped = mininet_bandwidth(capacity_bps, scale)
    assert (bw, clamped) == (pytest.approx(expected[0]), expected[1])
    assert MININET_BW_RANGE_MBPS[0] <= bw <= MININET_BW_RANGE_MBPS[1]
