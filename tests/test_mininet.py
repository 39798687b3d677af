"""Integration tier: the real ryu-manager, Open vSwitch (userspace datapath) and Mininet hosts.

Slow (about two minutes) and root-only: `pytest -m "not mininet"` runs everything else.
These assert forwarding behaviour (ping, iperf3, installed flows), not message text.
Without root or Mininet every test here skips (and fails when CI=true, see conftest.py).
"""
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import require_data_or_skip
from tests.lab_helpers import started_lab

pytestmark = pytest.mark.mininet

# The failover figures BENCHMARKS.md claims ("Failover", Abilene, 5 trials): median 20 ms,
# worst 40 ms; its target, an outage under 1 s, is the ceiling no trial may reach. Of 5 trials at
# least 3 must be within the claimed median plus one 10 ms ping slot (the outage is counted in
# whole slots) and 4 within the claimed worst (one outlier allowed on a busy machine).
PING_SLOT_S = 0.010
CLAIMED_MEDIAN_OUTAGE_S, CLAIMED_WORST_OUTAGE_S = 0.020 + PING_SLOT_S, 0.040
OUTAGE_CEILING_S = 1.0
FAILOVER_TRIALS, WITHIN_MEDIAN_AT_LEAST, WITHIN_WORST_AT_LEAST = 5, 3, 4


@pytest.fixture(scope="module")
def mininet_lab():
    """controller.lab.mininet_lab, or a skip saying what this machine lacks."""
    if os.geteuid() != 0:
        pytest.skip("Mininet tests need root (Open vSwitch, network namespaces)")
    return pytest.importorskip("controller.lab.mininet_lab",
                               reason="Debian's mininet package is not importable")


def _lab(mininet_lab, topo, request, **settings):
    yield from started_lab(mininet_lab, topo, request, settings)


@pytest.fixture(scope="class")
def ring(mininet_lab, request):
    from topologies.mininet_topos import RingTopo

    yield from _lab(mininet_lab, RingTopo(n=4), request, metrics_port=mininet_lab.free_port())


@pytest.fixture(scope="class")
def abilene(mininet_lab, request):
    from topologies.mininet_topos import AbileneTopo

    yield from _lab(mininet_lab, AbileneTopo(), request)


@pytest.fixture(scope="class")
def geant(mininet_lab, request):
    from topologies.mininet_topos import GeantTopo

    require_data_or_skip("geant", "GEANT.json")
    yield from _lab(mininet_lab, GeantTopo(), request, topology="geant", routing_weight="ospf")


# A five-node ring as a topology file (ids sorted: A..E are switches s1..s5), and a tunnel that
# sends s1 -> s3 the long way round.
RING5 = {"directed": False, "nodes": [{"id": name} for name in "EDCBA"],
         "links": [{"source": "A", "target": "B", "capacity": 10e9},
                   {"source": "B", "target": "C", "capacity": 5e9},
                   {"source": "C", "target": "D", "capacity": 10e9},
                   {"source": "D", "target": "E", "capacity": 2e9},
                   {"source": "E", "target": "A", "capacity": 10e9}]}
RING5_CAPACITY_BPS = {(1, 2): 10e6, (2, 3): 5e6, (3, 4): 10e6, (4, 5): 2e6, (5, 1): 10e6}  # x 1e-3
RING5_TUNNELS = "A C:A-E-D-C\n"


@pytest.fixture(scope="class")
def ring_file(mininet_lab, request, tmp_path_factory):
    import json

    from topologies.mininet_topos import GraphTopo

    folder = tmp_path_factory.mktemp("ring5")
    topology, tunnels = folder / "ring5.json", folder / "tunnels.txt"
    topology.write_text(json.dumps(RING5))
    tunnels.write_text(RING5_TUNNELS)
    yield from _lab(mininet_lab, GraphTopo(str(topology)), request, topology=str(topology),
                    policy="milp", tunnels=str(tunnels))


def _switch_tx_packets(lab) -> int:
    total = 0
    for switch in lab.net.switches:
        out = os.popen(f"ovs-ofctl -O OpenFlow13 dump-ports {switch.name}").read()
        total += sum(int(n) for n in re.findall(r"tx pkts=(\d+)", out))
    return total


class TestRing:
    """Four switches in a loop."""

    def test_ring_all_pairs_reachable_without_broadcast_storm(self, ring):
        assert ring.ping_all() == 0.0
        time.sleep(1.0)
        before = _switch_tx_packets(ring)
        time.sleep(3.0)
        grown = _switch_tx_packets(ring) - before
        # LLDP alone sends about one frame a second per port; a broadcast storm in the loop would
        # send hundreds of thousands.
        assert grown < 500, f"{grown} frames forwarded in 3 s of silence: a loop is flooding"


    def test_ring_installs_cookie_tagged_tunnel_rules_and_groups(self, ring):
        ring.ping_all()
        flows = ring.dump_flows("s1")
        assert "cookie=0x71726f75" in flows
        assert "dl_dst=00:00:00:00:00:02" in flows  # the destination host's traffic enters a group
        assert re.search(r"group_id=2,type=select,bucket=.*push_vlan", ring.dump_groups("s1"))


    def test_ring_serves_prometheus_metrics(self, ring):
        ring.ping_all()
        time.sleep(2.5)  # at least two port-statistics polls
        url = f"http://127.0.0.1:{ring.settings['metrics_port']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        assert re.search(r"^qroute_pairs_installed 12\.0$", text, re.M)
        assert len(re.findall(r"^qroute_link_utilisation\{", text, re.M)) == 8

    def test_ring_failover_takes_the_other_way_and_restore_uses_the_link_again(self, ring, mininet_lab):
        assert ring.ping_all() == 0.0  # installs h1 -> h2 when this test runs alone
        result = mininet_lab.measure_failover(ring, "h1", "h2", before_s=1.0, after_s=1.5)
        try:
            assert result.path_before == [1, 2]
            assert result.path_after == [1, 4, 3, 2]
            # traffic resumed: the last second of the stream came back
            tail = range(result.stream.sent - 100, result.stream.sent + 1)
            assert sum(seq in result.stream.received for seq in tail) >= 90
            assert result.outage_s < OUTAGE_CEILING_S
        finally:
            ring.set_link(1, 2, up=True)
        assert _path_comes_back(ring, "h1", "h2", [1, 2])
        assert ring.ping_all() == 0.0


class TestAbilene:
    """The Abilene backbone with shaped links."""

    def test_abilene_all_pairs_reachable(self, abilene):
        assert abilene.ping_all() == 0.0
        assert len(abilene.rest("pairs")) == 12 * 11


    def test_abilene_iperf3_tcp(self, abilene):
        abilene.ping_all()
        result = abilene.iperf3("h9", "h12", seconds=2)  # New York -> Washington, 10 Mbit/s link
        assert "error" not in result, result.get("error")
        received = result["end"]["sum_received"]["bits_per_second"]
        assert received > 2e6, f"TCP got only {received / 1e6:.2f} Mbit/s"


    def test_abilene_failover_outage_within_the_claimed_figures(self, abilene):
        """The scenario BENCHMARKS.md's figures describe, held to them by a k-of-n rule."""
        abilene.ping_all()
        path = abilene.wait_for_path("h11", "h8")  # Seattle -> Los Angeles
        outages = []
        for _ in range(FAILOVER_TRIALS):
            outages.append(_assert_failover_keeps_traffic_flowing(abilene, "h11", "h8"))
            assert _path_comes_back(abilene, "h11", "h8", path), "the restored link is not used again"
        shown = f"outages {', '.join(f'{outage * 1000:.0f}' for outage in outages)} ms"
        for claim, at_least in ((CLAIMED_MEDIAN_OUTAGE_S, WITHIN_MEDIAN_AT_LEAST),
                                (CLAIMED_WORST_OUTAGE_S, WITHIN_WORST_AT_LEAST)):
            within = sum(outage <= claim + 1e-9 for outage in outages)  # multiples of the 10 ms ping
            assert within >= at_least, f"{shown}: {within} of {len(outages)} within {claim * 1000:.0f} ms"
        print(shown)


def _path_comes_back(lab, src, dst, path, timeout_s: float = 15.0) -> bool:
    """Whether src -> dst returns to `path` once its link is restored (LLDP rediscovers it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and lab.path_between(src, dst) != path:
        time.sleep(0.25)
    return lab.path_between(src, dst) == path


def _assert_failover_keeps_traffic_flowing(lab, src, dst) -> float:
    """The first link of src -> dst fails under a ping stream: the flow takes a path without
    it, the outage stays under the ceiling and the stream's last 100 pings mostly arrive. The
    link is restored afterwards. Returns the outage (s)."""
    from controller.lab.mininet_lab import measure_failover

    lab.ping_all()
    result = measure_failover(lab, src, dst, before_s=1.0, after_s=1.5)
    try:
        assert result.path_after and result.path_after != result.path_before
        failed = result.failed_link
        hops = list(zip(result.path_after, result.path_after[1:]))
        assert failed not in hops and failed[::-1] not in hops
        tail = range(result.stream.sent - 100, result.stream.sent + 1)
        assert sum(seq in result.stream.received for seq in tail) >= 90
        assert result.outage_s < OUTAGE_CEILING_S
    finally:
        lab.set_link(*result.failed_link, up=True)
    return result.outage_s


@pytest.fixture(scope="class")
def abilene_qnn(mininet_lab, request):
    from topologies.mininet_topos import AbileneTopo

    yield from _lab(mininet_lab, AbileneTopo(), request, topology="abilene", policy="qnn",
                    reoptimize_interval="2.0")


@pytest.fixture(scope="class")
def abilene_dote(mininet_lab, request):
    from topologies.mininet_topos import AbileneTopo

    yield from _lab(mininet_lab, AbileneTopo(), request, topology="abilene", policy="dote",
                    reoptimize_interval="2.0")


class TestAbileneDOTE:
    """Abilene with the shipped dote-abilene checkpoint splitting every pair over its own paths."""

    def test_dote_policy_routes_all_pairs(self, abilene_dote):
        state = abilene_dote.rest("state")
        assert state["policy_name"] == "dote" and state["policy_problem"] == ""
        assert abilene_dote.ping_all() == 0.0
        assert len(abilene_dote.rest("pairs")) == 12 * 11
        # decisions on measured demand keep coming from dote, not the fallback
        time.sleep(5)
        assert abilene_dote.ping_all() == 0.0
        state = abilene_dote.rest("state")
        assert state["policy_name"] == "dote" and state["policy_problem"] == ""


class TestAbileneQNN:
    """Abilene with the shipped QNN choosing every flow's path from measured flow rates."""

    def test_qnn_policy_routes_all_pairs(self, abilene_qnn):
        state = abilene_qnn.rest("state")
        assert state["policy"].startswith("qnn router") and state["policy_problem"] == ""
        assert abilene_qnn.ping_all() == 0.0
        assert len(abilene_qnn.rest("pairs")) == 12 * 11

    def test_pair_demand_is_measured_while_traffic_runs_and_forwarding_survives_reroutes(self, abilene_qnn):
        import threading

        lab = abilene_qnn
        lab.ping_all()
        pair = (2, 5)  # Atlanta (s2) -> Houston (s5)
        result = {}
        worker = threading.Thread(target=lambda: result.update(lab.iperf3("h2", "h5", seconds=8, udp_mbps=3)))
        worker.start()
        seen = []
        deadline = time.monotonic() + 12
        while worker.is_alive() and time.monotonic() < deadline:
            rates = {(r["src"], r["dst"]): r["demand_bps"] for r in lab.rest("pairs")}
            seen.append(rates.get(pair) or 0.0)
            time.sleep(0.5)
        worker.join(timeout=30)
        assert "error" not in result, result.get("error")
        assert max(seen) > 2e6, f"measured demand of {pair}: {seen}"
        assert lab.ping_all() == 0.0

    def test_qnn_failover_keeps_traffic_flowing(self, abilene_qnn):
        _assert_failover_keeps_traffic_flowing(abilene_qnn, "h3", "h8")  # Chicago -> Los Angeles


class TestGeant:
    """GEANT from the data directory: 22 switches, 36 links shaped to its capacities x 1e-3,
    routed by its OSPF weights."""

    def test_geant_all_pairs_reachable_and_capacities_known(self, geant):
        assert len(geant.rest("switches")) == 22
        assert geant.ping_all() == 0.0
        assert len(geant.rest("pairs")) == 22 * 21
        capacity = {(link["src"], link["dst"]): link["capacity_bps"] for link in geant.rest("links")}
        assert len(capacity) == 72
        # GEANT.json: nodes 0-2 at 10 Gbit/s, 0-15 at 2.4 Gbit/s, 1-13 at 155 Mbit/s
        assert (capacity[(1, 3)], capacity[(1, 16)], capacity[(2, 14)]) == (10e6, 2.4e6, 155e3)

    def test_geant_iperf3_tcp(self, geant):
        geant.ping_all()
        assert geant.wait_for_path("h1", "h3") == [1, 3]  # one 10 Gbit/s hop, OSPF weight 1
        result = geant.iperf3("h1", "h3", seconds=2)
        assert "error" not in result, result.get("error")
        received = result["end"]["sum_received"]["bits_per_second"]
        assert received > 2e6, f"TCP got only {received / 1e6:.2f} Mbit/s on a 10 Mbit/s link"

    def test_geant_failover_keeps_traffic_flowing(self, geant):
        outage = _assert_failover_keeps_traffic_flowing(geant, "h1", "h3")
        print(f"GEANT s1-s3 failover outage {outage * 1000:.0f} ms")
        assert geant.wait_for_all_links() == 72


class TestTopologyFile:
    """A topology file the test writes: Mininet shapes its links and the controller knows its
    capacities (`topology = PATH`), and its one tunnel is the candidate path of s1 -> s3."""

    def test_file_capacities_reach_the_controller_and_all_pairs_reachable(self, ring_file):
        assert ring_file.ping_all() == 0.0
        capacity = {(link["src"], link["dst"]): link["capacity_bps"] for link in ring_file.rest("links")}
        both_ways = {**RING5_CAPACITY_BPS, **{(b, a): bps for (a, b), bps in RING5_CAPACITY_BPS.items()}}
        assert capacity == both_ways
        assert ring_file.rest("state")["policy"].endswith("given tunnels for 1 switch pairs")

    def test_the_tunnel_is_the_path_though_it_is_not_a_shortest_one(self, ring_file):
        ring_file.ping_all()
        assert ring_file.wait_for_path("h1", "h3") == [1, 5, 4, 3]


# The forced-change test (BENCHMARKS.md "Consistent updates"): 20 pins alternating paths and
# weights under a 100 pps ping stream, in each of 3 trials; at least 2 trials lose nothing and
# none loses more than 3 packets (a busy machine may delay one reply past ping's deadline).
FORCED_CHANGES, CHANGE_TRIALS, LOSSLESS_AT_LEAST, MOST_LOST = 20, 3, 2, 3
UPPER, LOWER = [1, 2, 4], [1, 3, 4]  # the diamond's two paths from s1 to s4
FORCED_SPLITS = [  # heaviest first, as the lab reads them back
    [(UPPER, 1.0)], [(LOWER, 1.0)], [(UPPER, 0.5), (LOWER, 0.5)], [(LOWER, 0.8), (UPPER, 0.2)],
    [(UPPER, 0.7), (LOWER, 0.3)],
]


@pytest.fixture(scope="class")
def diamond(mininet_lab, request):
    from topologies.mininet_topos import DiamondTopo

    yield from _lab(mininet_lab, DiamondTopo(), request, reoptimize_interval="30.0")


def _pin(lab, split) -> None:
    status, reply = lab.rest_write("PUT", "pins/1-4", {"paths": [p for p, _ in split],
                                                       "weights": [w for _, w in split]})
    assert status == 200, reply
    assert lab.wait_for_split("h1", "h4", split), f"{split} not installed: {lab.split_between('h1', 'h4')}"


class TestTunnels:
    """The tunnel data plane on the diamond: weights in the switches, ordered updates."""

    def test_tunnel_rules_and_weighted_groups_are_in_the_switches(self, diamond):
        assert diamond.ping_all() == 0.0
        _pin(diamond, [(UPPER, 0.7), (LOWER, 0.3)])
        groups = diamond.dump_groups("s1")
        weighted = r"group_id=4,type=select,bucket=weight:700,.*push_vlan.*bucket=weight:300"
        assert re.search(weighted, groups), groups
        flows = diamond.dump_flows("s2")
        assert "cookie=0x71726f75" in flows and "dl_vlan=" in flows  # transit rules by label
        assert "pop_vlan" in diamond.dump_flows("s4")
        assert len(diamond.rest("pairs")) == 4 * 3

    def test_a_pairs_tcp_connections_split_by_the_bucket_weights(self, diamond):
        diamond.ping_all()
        _pin(diamond, [(UPPER, 0.7), (LOWER, 0.3)])
        labels = {tuple(p["path"]): p["label"] for entry in diamond.rest("pairs")
                  if (entry["src"], entry["dst"]) == (1, 4) for p in entry["paths"]}
        before = diamond.bucket_bytes("s1").get(4, {})
        server = diamond.start_iperf3_server("h4", 5301)
        time.sleep(0.5)
        # 128 paced TCP connections (iperf3's most; 6.4 Mbit/s in all, under either path's
        # 10 Mbit/s): each is hashed onto one bucket by its ports, so the upper share is binomial,
        # 0.7 +- 0.04. Full-size writes (-l), not iperf3's 128 KB ones: a slow paced connection
        # sends each of those as a burst, the bursts overfill a 10 Mbit/s path, and the
        # retransmissions counted at the bucket skew its share (0.70-0.89 in five runs with them)
        client = diamond.host("h1").popen(["iperf3", "-c", diamond.host("h4").IP(), "-p", "5301",
                                           "-t", "4", "-P", "128", "-b", "50K", "-l", "1448", "-J"],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = client.communicate(timeout=40)
        server.wait(timeout=10)
        assert '"error"' not in out, out[-500:] + err
        after = diamond.bucket_bytes("s1")[4]
        sent = {path: after[labels[path]] - before.get(labels[path], 0)
                for path in (tuple(UPPER), tuple(LOWER))}
        share = sent[tuple(UPPER)] / sum(sent.values())
        print(f"bucket bytes {sent}: upper share {share:.3f} at weight 0.7")
        assert sent[tuple(LOWER)] > 0 and abs(share - 0.7) <= 0.15

    def test_twenty_forced_changes_lose_no_packet_of_a_100_pps_stream(self, diamond):
        diamond.ping_all()
        losses = []
        for _trial in range(CHANGE_TRIALS):
            _pin(diamond, FORCED_SPLITS[0])
            stream = diamond.start_ping_stream("h1", "h4", count=100 * 14)  # 14 s at 100 pps
            time.sleep(1.0)
            for change in range(1, FORCED_CHANGES + 1):
                _pin(diamond, FORCED_SPLITS[change % len(FORCED_SPLITS)])
                time.sleep(0.3)
            losses.append(diamond.finish_ping_stream(stream).lost)
        print(f"packets lost over {FORCED_CHANGES} changes, per trial: {losses}")
        assert sum(lost == 0 for lost in losses) >= LOSSLESS_AT_LEAST and max(losses) <= MOST_LOST, losses

    def test_bad_pins_are_refused_and_forwarding_goes_on(self, diamond):
        diamond.ping_all()
        status, reply = diamond.rest_write("PUT", "pins/1-4", {"paths": [[1, 4]]})
        assert status == 400 and "1-4" in reply["error"]
        status, _ = diamond.rest_write("PUT", "pins/1-4", {"paths": [UPPER], "extra": 1})
        assert status == 400
        status, _ = diamond.rest_write("PUT", "pins/1-99", {"paths": [[1, 99]]})
        assert status == 404
        request = urllib.request.Request(f"http://127.0.0.1:{diamond.rest_port}/qroute/v1/pins/1-4",
                                         data=b'{"paths": [[1, 2, 4]]}', method="PUT")
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(request, timeout=5)  # no token
        assert denied.value.code == 401
        assert diamond.rest_write("DELETE", "pins/1-4")[0] == 200
        assert diamond.ping_all() == 0.0
