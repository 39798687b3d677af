"""``qroute lab replay``'s pure parts: which demands are sent, how they are scaled and split into
streams, the MLU of an interval from counter readings, and the summaries; checked against
brute force and literal values. The live run is in tests/test_mininet.py."""
from __future__ import annotations

import itertools
import json
import pathlib

import numpy as np
import pytest

from controller.lab import replay
from controller.lab.replay import CounterSample
from qnn.network import Network
from tests.conftest import require_data_or_skip


def test_largest_demands_stop_at_the_first_pair_that_reaches_the_share():
    tm = np.array([[9.0, 50.0, 5.0],
                   [30.0, 9.0, 0.0],
                   [15.0, 0.0, 9.0]])  # the diagonal is no traffic; off it: 50 + 30 + 15 + 5 = 100
    assert replay.largest_demands(tm, 0.8) == [(0, 1), (1, 0)]       # 80 exactly is enough
    assert replay.largest_demands(tm, 0.81) == [(0, 1), (1, 0), (2, 0)]
    assert replay.largest_demands(tm, 0.999) == [(0, 1), (1, 0), (2, 0), (0, 2)]
    assert replay.largest_demands(np.eye(3), 0.8) == []  # nothing but the diagonal


@pytest.mark.parametrize("seed", range(5))
def test_largest_demands_are_the_fewest_pairs_that_carry_the_share(seed):
    rng = np.random.default_rng(seed)
    tm = rng.lognormal(0.0, 1.5, size=(4, 4))
    np.fill_diagonal(tm, 0.0)
    pairs = [(i, j) for i in range(4) for j in range(4) if i != j]
    total = tm.sum()
    fewest = next(size for size in range(1, len(pairs) + 1)
                  if any(sum(tm[p] for p in subset) >= 0.8 * total
                         for subset in itertools.combinations(pairs, size)))
    chosen = replay.largest_demands(tm, 0.8)
    assert len(chosen) == fewest
    assert sum(tm[p] for p in chosen) >= 0.8 * total
    assert min(tm[p] for p in chosen) >= max(tm[p] for p in pairs if p not in chosen)


def test_stream_rates_divide_the_pair_evenly():
    assert replay.stream_rates(8e6, 4) == [2e6, 2e6, 2e6, 2e6]
    assert replay.stream_rates(1e3, 1) == [1e3]


def _line():
    """0 - 1 - 2, both directions: 0<->1 of 10 Gbit/s, 1<->2 of 2.5 Gbit/s (unit weights)."""
    return Network("line", [0, 1, 2], [(0, 1), (1, 0), (1, 2), (2, 1)], [10e9, 10e9, 2.5e9, 2.5e9],
                   [1, 1, 1, 1])


def test_the_plan_loads_ospfs_busiest_link_to_the_overload_in_the_busiest_matrix():
    matrices = np.zeros((2, 3, 3))
    matrices[0, 0, 2] = 1e9   # over 0->1 and 1->2: 1->2 (2.5 Gbit/s) at 0.4
    matrices[1, 0, 2] = 2e9   # 1->2 at 0.8: the busiest matrix
    plan = replay.plan_replay("line", _line(), matrices, [0, 1], "test", True, overload=1.2,
                              volume_share=0.8, streams=4)
    assert plan.capacity_scale == pytest.approx(1e-3)  # 4.8 Mbit/s of link traffic: far below the ceiling
    assert plan.ospf_mlu == pytest.approx([0.6, 1.2])
    # 1->2 is shaped to 2.5 Mbit/s; 1.2 x that in matrix 1, half of it in matrix 0
    assert plan.rates == [{(0, 2): pytest.approx(1.5e6)}, {(0, 2): pytest.approx(3e6)}]
    assert plan.link_traffic_mbps == pytest.approx([3.0, 6.0])  # two links each
    assert plan.pairs == [(0, 2)]


def test_the_plan_lowers_the_capacity_scale_to_fit_the_ceiling():
    matrices = np.zeros((1, 3, 3))
    matrices[0, 0, 2] = 2e9
    plan = replay.plan_replay("line", _line(), matrices, [0], "test", True, overload=1.0,
                              volume_share=0.8, streams=4, ceiling_mbps=2.5)
    # at 1e-3 the flow would be 2.5 Mbit/s over 2 links (5 Mbit/s): half the scale fits 2.5
    assert plan.capacity_scale == pytest.approx(5e-4)
    assert plan.rates == [{(0, 2): pytest.approx(1.25e6)}]
    assert plan.ospf_mlu == pytest.approx([1.0])


def test_the_shaped_network_sorts_links_and_scales_capacities():
    network = Network("n", [0, 1, 2], [(1, 2), (0, 1), (2, 1), (1, 0)], [2.5e9, 10e9, 2.5e9, 10e9],
                      [3, 1, 3, 1])
    shaped = replay.sorted_network(network, 1e-3)
    assert shaped.links == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert list(shaped.capacity) == [10e6, 10e6, 2.5e6, 2.5e6]
    assert list(shaped.weight) == [1, 1, 3, 3]


DUMP_PORTS = """OFPST_PORT reply (OF1.3) (xid=0x2): 3 ports
  port LOCAL: rx pkts=0, bytes=0, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=0, bytes=0, drop=0, errs=0, coll=0
           duration=0.446s
  port  1: rx pkts=12, bytes=1024, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=12, bytes=954, drop=0, errs=0, coll=0
           duration=0.446s
  port  2: rx pkts=6, bytes=542, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=8, bytes=688, drop=0, errs=0, coll=0
           duration=0.447s
"""


def test_dump_ports_are_read_per_numbered_port():
    tx, rx = replay.parse_dump_ports(DUMP_PORTS)
    assert tx == {1: 954, 2: 688}
    assert rx == {1: 1024, 2: 542}


def test_an_intervals_mlu_is_the_busiest_links_tx_rate_over_its_capacity():
    links = {(0, 1): ("s1", 2), (1, 0): ("s2", 1), (1, 2): ("s2", 3)}
    capacity = {(0, 1): 10e6, (1, 0): 10e6, (1, 2): 2.5e6}
    before = {"s1": CounterSample(10.0, {2: 1_000}, {}), "s2": CounterSample(10.5, {1: 0, 3: 500}, {})}
    # s1 read 1 s later, s2 2 s later: each switch's rate over its own readings
    after = {"s1": CounterSample(11.0, {2: 1_001_000}, {}),
             "s2": CounterSample(12.5, {1: 250_000, 3: 250_500}, {})}
    rates = replay.link_rates(before, after, links)
    assert rates == pytest.approx({(0, 1): 8e6, (1, 0): 1e6, (1, 2): 1e6})
    mlu, busiest = replay.interval_mlu(rates, capacity)
    assert (mlu, busiest) == (pytest.approx(0.8), (0, 1))
    rates[(1, 2)] = 2.25e6
    assert replay.interval_mlu(rates, capacity) == (pytest.approx(0.9), (1, 2))
    assert np.isnan(replay.interval_mlu({}, capacity)[0])


def test_host_port_bytes_sum_what_hosts_sent_and_received():
    before = {"s1": CounterSample(0.0, {1: 100}, {1: 1000}), "s2": CounterSample(0.0, {1: 0}, {1: 0})}
    after = {"s1": CounterSample(1.0, {1: 600}, {1: 4000}), "s2": CounterSample(1.0, {1: 2500}, {1: 10})}
    assert replay.host_port_bytes(before, after, {"s1": [1], "s2": [1]}) == (3010, 3000)


def test_steady_intervals_leave_out_the_settling_start_and_the_traffics_end():
    assert replay.steady_interval(1.0, 2.0, seconds=10, settle_s=1)
    assert not replay.steady_interval(0.5, 1.5, seconds=10, settle_s=1)
    assert replay.steady_interval(9.0, 10.0, seconds=10, settle_s=1)
    assert not replay.steady_interval(9.5, 10.5, seconds=10, settle_s=1)


def test_summaries_are_the_mean_and_90th_percentile_of_finite_values():
    assert replay.summarise([float(v) for v in range(1, 11)] + [None, float("nan")]) == \
        {"mean": 5.5, "p90": 9.1, "n": 10}
    assert replay.summarise([]) == {"mean": None, "p90": None, "n": 0}


def test_iperf3_tcp_reports_give_sender_and_receiver_bytes():
    report = {"end": {"sum_sent": {"bytes": 120_000, "seconds": 2.0, "retransmits": 3},
                      "sum_received": {"bytes": 90_000, "seconds": 2.01}}}
    assert replay.iperf3_figures(report) == (120_000, 90_000, 2.0)


def test_matrix_ranges_are_start_and_count():
    assert replay.parse_matrix_range("3:5") == (3, 5)
    for bad in ("3", "3:0", "-1:2", "a:b"):
        with pytest.raises(Exception, match="START:COUNT"):
            replay.parse_matrix_range(bad)


def _plan(topology="abilene"):
    return replay.ReplayPlan(topology, "test", [0], 1e-3, 1.0, 1.0, 0.8, 4, [{(0, 1): 1e6}], [1.0], [1.0],
                             True)


def test_every_policy_name_maps_to_a_controller_policy():
    from controller.settings import CHOICES

    known = set(CHOICES["policy"]) | {"lp"}  # lp: the path-LP policy issue 14 adds
    assert {settings["policy"] for settings in replay.POLICY_SETTINGS.values()} <= known
    assert replay.POLICY_SETTINGS["spf"] == {"policy": "shortest-path", "routing_weight": "ospf"}


def test_the_controller_gets_the_policy_and_the_replays_facts():
    from controller.settings import parse_settings

    settings = replay._controller_settings("spf", _plan())
    parsed = parse_settings(settings)
    assert (parsed.policy, parsed.routing_weight, parsed.topology) == ("shortest-path", "ospf", "abilene")
    assert parsed.capacity_scale == 1e-3
    assert not parsed.tunnels


def test_settings_the_controller_rejects_stop_the_run_naming_the_policy():
    from dataclasses import fields

    from controller.settings import CHOICES, Settings, SettingsError

    for name in ("qnn-split", "mlp-split", "lp"):
        wanted = replay.POLICY_SETTINGS[name]
        accepted = "split" in {f.name for f in fields(Settings)} and wanted["policy"] in CHOICES["policy"]
        if accepted:
            continue  # this controller has what the name asks for
        with pytest.raises(SettingsError, match=rf"^{name} \(policy = "):
            replay._controller_settings(name, _plan())


def test_a_single_path_learned_policy_runs_on_a_controller_without_the_split_option():
    from controller.settings import parse_settings

    parsed = parse_settings(replay._controller_settings("qnn", _plan()))
    assert parsed.policy == "qnn"
    assert getattr(parsed, "split", "false") in ("false", False)


@pytest.mark.data
def test_geant_candidate_policies_get_its_tunnels_and_shortest_path_does_not(data_dir):
    assert replay._controller_settings("qnn", _plan("geant"))["tunnels"].endswith("tunnels.txt")
    assert "tunnels" not in replay._controller_settings("spf", _plan("geant"))


@pytest.mark.data
def test_geant_candidates_are_its_tunnels(data_dir):
    from topologies.geant import load_geant, load_tunnels

    network = load_geant()
    shaped = replay.sorted_network(network, 1e-3)
    pathset = replay.candidate_pathset("geant", shaped, [(0, 5), (3, 1)])
    tunnels = load_tunnels(network)
    assert [[p for p in paths if p] for paths in pathset.paths] == [tunnels[(0, 5)], tunnels[(3, 1)]]


def test_abilene_candidates_are_the_three_ospf_shortest_paths():
    import networkx as nx

    from topologies.abilene import load_abilene

    shaped = replay.sorted_network(load_abilene(), 1e-3)
    pathset = replay.candidate_pathset("abilene", shaped, [(0, 6)])
    graph = shaped.graph()
    costs = sorted(nx.path_weight(graph, path, "weight") for path in nx.all_simple_paths(graph, 0, 6))
    assert [nx.path_weight(graph, p, "weight") for p in pathset.paths[0]] == costs[:3]


def test_payload_and_frame_rates_differ_by_the_headers_of_a_full_size_tcp_segment():
    # 1448 bytes of payload in a 1514-byte frame: Ethernet 14, IPv4 20, TCP 20 + 12 (timestamps)
    assert replay.frame_rate(1448e3) == pytest.approx(1514e3)
    assert replay.payload_rate(replay.frame_rate(5e6)) == pytest.approx(5e6)
    # the same payload in a UDP datagram: Ethernet 14, IPv4 20, UDP 8
    assert replay.frame_rate(1448e3, "udp") == pytest.approx(1490e3)
    assert replay.payload_rate(1490e3, "udp") == pytest.approx(1448e3)


class _RecordingLab:
    def __init__(self):
        self.clients = []

    def start_iperf3_client(self, client, server, port, seconds, **options):
        self.clients.append(options)
        return _FinishedClient(options)


class _FinishedClient:
    """An iperf3 client whose report says it sent 10 s at its rate and 3/4 of it arrived."""

    def __init__(self, options):
        rate = options.get("udp_mbps") or options["paced_mbps"]
        self.sent = round(rate * 1e6 * options["streams"] * 10 / 8)

    def communicate(self, timeout=None):
        received = self.sent * 3 // 4
        return json.dumps({"end": {"sum_sent": {"bytes": self.sent, "seconds": 10.0},
                                   "sum_received": {"bytes": received, "seconds": 10.0}}}), ""


# each stream's payload rate, Mbit/s, of pairs loading links with 8 and 4 Mbit/s of frames over 4
# streams: 2 and 1 Mbit/s of frames a stream, 1448 bytes of payload in a 1514-byte TCP frame or a
# 1490-byte UDP one
PER_STREAM_MBPS = {"tcp": [2 * 1448 / 1514, 1448 / 1514], "udp": [2 * 1448 / 1490, 1448 / 1490]}


@pytest.mark.parametrize("transport, pacing", [("tcp", "paced_mbps"), ("udp", "udp_mbps")])
def test_a_matrix_is_sent_as_paced_tcp_or_as_udp_at_the_pairs_payload_rate(transport, pacing):
    lab = _RecordingLab()
    rates = {(0, 1): 8e6, (1, 0): 4e6}
    pathset = type("P", (), {"demands": list(rates)})()
    outcome = replay._replay_matrix(lab, 7, rates, pathset, {(0, 1): 5301, (1, 0): 5302}, 4, 10, 0.5,
                                    transport)
    assert [set(c) - {"datagram_bytes", "streams"} for c in lab.clients] == [{pacing}] * 2
    per_stream = [c[pacing] for c in lab.clients]
    assert per_stream == pytest.approx(PER_STREAM_MBPS[transport])
    assert outcome.delivered_share == pytest.approx(0.75, abs=1e-6)
    assert outcome.sender_bps["0-1"] == pytest.approx(8e6, rel=1e-6)  # frames again


def _interval(matrix, steady, mlu, lp):
    return {"matrix": matrix, "steady": steady, "mlu": mlu, "lp_mlu": lp, "mlu_ratio": mlu / lp}


def test_a_policys_summary_covers_its_steady_intervals_and_every_matrixs_bytes():
    run = replay.PolicyReplay("spf", {}, intervals=[
        _interval(7, True, 0.9, 0.6), _interval(7, True, 0.6, 0.6),
        _interval(7, False, 0.1, 0.6),           # the traffic starting: left out
        _interval(8, True, 0.8, 0.5), _interval(None, False, 0.0, 1.0)],
        matrices=[replay.MatrixResult(7, offered_bytes=1000, sent_bytes=950, received_bytes=900),
                  replay.MatrixResult(8, offered_bytes=3000, sent_bytes=3000, received_bytes=3000,
                                      unreported_pairs=["0-1: x"])])
    summary = run.summary()
    assert summary["mlu"] == {"mean": pytest.approx(0.7667, abs=1e-4), "p90": pytest.approx(0.88), "n": 3}
    assert summary["mlu_ratio"] == {"mean": pytest.approx((1.5 + 1.0 + 1.6) / 3, abs=1e-4),
                                    "p90": pytest.approx(1.58), "n": 3}
    assert summary["delivered_share"] == pytest.approx(0.975)  # of what was offered, not sent
    assert summary["unreported_pairs"] == 1
    row = replay.format_table([run]).splitlines()[-1]
    assert row.startswith("| spf | 1.367 | 1.580 | 0.767 | 0.880 | 97.5 | 1 | 0 | 0 |")


def test_repeated_runs_report_the_spread_of_each_policys_live_ratio():
    def run(policy, number, ratio, received):
        return replay.PolicyReplay(policy, {}, intervals=[_interval(1, True, ratio * 0.5, 0.5)],
                                   matrices=[replay.MatrixResult(1, offered_bytes=100,
                                                                 received_bytes=received)],
                                   run=number)

    runs = [run("spf", 1, 1.7, 100), run("qnn-split", 1, 1.2, 90), run("spf", 2, 1.8, 100),
            run("qnn-split", 2, 1.4, 100), run("qnn-split", 3, 1.3, 95)]
    spread = replay.across_runs(runs)
    assert list(spread) == ["spf", "qnn-split"]
    assert spread["qnn-split"]["mlu_ratio_means"] == [1.2, 1.4, 1.3]
    assert spread["qnn-split"]["mean"] == pytest.approx(1.3)
    assert spread["qnn-split"]["sd"] == pytest.approx(0.1)     # sample sd of 1.2, 1.4, 1.3
    assert (spread["qnn-split"]["min"], spread["qnn-split"]["max"]) == (1.2, 1.4)
    assert spread["qnn-split"]["delivered_share"] == pytest.approx(0.95)
    assert spread["spf"]["sd"] == pytest.approx(0.0707, abs=1e-4)
    assert replay.across_runs(runs[:1])["spf"]["sd"] is None
    table = replay.format_spread(runs)
    assert "| qnn-split | 3 | 1.300 | 0.100 | 1.200 | 1.400 | 1.200, 1.400, 1.300 | 95.0 |" in table
    assert replay.format_table(runs).splitlines()[-1].startswith("| qnn-split (run 3) | 1.300 |")


def test_the_controllers_decisions_that_changed_rules_are_kept_in_replay_time():
    from controller.decision_log import DecisionLog

    log = DecisionLog(size=10, stats_interval=1.0)
    moved = [{"src": 1, "dst": 2, "paths": [[1, 2]], "weights": [1.0], "change": "rerouted"}]
    common = dict(reasons=["periodic"], policy="qnn-split", predicted_mlu=None, mlu_before=None)
    log.record(wall=1000.0, now=0.0, fallback="", decision_s=0.05, install_s=0.2, changes=moved,
               epoch=1, **common)
    log.record(wall=1002.0, now=2.0, fallback="", decision_s=0.04, install_s=0.0, changes=[],
               epoch=1, **common)                          # nothing changed: left out
    log.record(wall=1004.0, now=4.0, fallback="failed: x", decision_s=0.01, install_s=0.1,
               changes=moved * 2, epoch=2, **common)
    log.record(wall=1006.0, now=6.0, fallback="", decision_s=0.03, install_s=2.0, changes=[],
               epoch=2, aborted=[5], **common)             # a plan stopped: kept
    timeline = replay.decision_timeline(log.describe()["decisions"], wall_origin=1001.0)
    assert [d["ended_s"] for d in timeline] == [-0.75, 3.11, 7.03]
    assert [d["moved"]["rerouted"] for d in timeline] == [1, 2, 0]
    summary = replay.decision_summary(timeline)   # from the traffic's start: the first left out
    # the stopped plan is not an install, nor are its 2 s an install time
    assert summary["installed"] == 1 and summary["fell_back"] == 1 and summary["aborted"] == 1
    assert summary["install_ms"]["mean"] == pytest.approx(100, abs=1e-3)


def test_controller_counters_it_does_not_have_are_none():
    assert replay._grown({"pairs_rerouted": 3}, {"pairs_rerouted": 10}, "pairs_rerouted") == 7
    assert replay._grown({}, {"pairs_rerouted": 10}, "pairs_rerouted") is None


def _plan_args(topology, start=0, count=3):
    import argparse

    return argparse.Namespace(topology=topology, matrices=(start, count), seed=4, overload=1.0,
                              volume_share=0.8, streams=8, ceiling_mbps=replay.LINK_TRAFFIC_CEILING_MBPS)


def test_without_the_data_directory_abilene_replays_seeded_gravity_traffic(tmp_path, monkeypatch):
    from topologies.datadir import DATA_DIR_ENV, DataUnavailableError

    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "none"))
    plan, pathsets = replay.build_plan(_plan_args("abilene"))
    again, _ = replay.build_plan(_plan_args("abilene"))
    assert not plan.real and "seed 4" in plan.source
    assert plan.rates == again.rates  # seeded
    assert max(plan.ospf_mlu) == pytest.approx(1.0)
    assert [sorted(rates) for rates in plan.rates] == [p.demands for p in pathsets]
    with pytest.raises(DataUnavailableError):
        replay.build_plan(_plan_args("geant"))


@pytest.mark.data
def test_a_range_past_the_data_is_refused(data_dir):
    with pytest.raises(ValueError, match="has 400 matrices, not 399..400"):
        replay.build_plan(_plan_args("geant", 399, 2))


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
    assert replay.first_unseen_matrix(name) == _first_untrained_target(SHIPPED / f"{name}.json")


def test_by_default_the_first_unseen_matrix_is_unseen_by_both_controller_checkpoints():
    both = [_first_untrained_target(SHIPPED / f"{name}.json")
            for name in ("qnn-abilene", "qnn-abilene-single")]
    assert replay.first_unseen_matrix() == max(both)


@pytest.mark.data
def test_the_demo_races_the_busiest_unseen_abilene_matrix():
    from controller.lab.demo import race_matrix
    from topologies.traffic import load_traffic_matrices

    path = require_data_or_skip("abilene", "tm-week1.txt")
    index = race_matrix(seed=7)
    first = replay.first_unseen_matrix()
    totals = load_traffic_matrices(path, 12).sum(axis=(1, 2))
    assert index >= first and totals[index] == totals[first:].max()


def test_without_data_the_demo_races_the_seeded_gravity_matrix(monkeypatch, tmp_path):
    from controller.lab.demo import race_matrix

    monkeypatch.setenv("QROUTE_DATA_DIR", str(tmp_path / "absent"))
    assert race_matrix(seed=7) == 0


def test_the_demo_races_80_percent_of_the_volume_on_no_more_pairs_than_2_cores_keep_reporting(
        monkeypatch, tmp_path):
    """A gravity matrix spreads its volume over some 80 pairs: the plan of the demo's race keeps
    its 45 largest and reports the share they carry (against a sort of the matrix here); a
    matrix whose 80 % needs fewer pairs, as the real race matrix does, keeps 80 %."""
    from controller.lab.demo import MAX_PAIRS, VOLUME_SHARE
    from topologies.abilene import load_abilene

    monkeypatch.setenv("QROUTE_DATA_DIR", str(tmp_path / "absent"))
    network, matrices, _, real = replay.load_matrices("abilene", 7, 1)
    assert not real
    gravity = matrices[:1]
    assert len(replay.largest_demands(gravity[0], VOLUME_SHARE)) > MAX_PAIRS

    def plan(tms, max_pairs):
        return replay.plan_replay("abilene", network, tms, [0], "test", True, overload=1.3,
                                  volume_share=VOLUME_SHARE, streams=4, max_pairs=max_pairs)

    raced = plan(gravity, MAX_PAIRS)
    off_diagonal = gravity[0][~np.eye(12, dtype=bool)]
    assert len(raced.rates[0]) == MAX_PAIRS
    largest = np.sort(off_diagonal)[-MAX_PAIRS:]
    assert raced.carried_share[0] == pytest.approx(largest.sum() / off_diagonal.sum())
    assert raced.carried_share[0] < VOLUME_SHARE
    concentrated = np.zeros((1, 12, 12))
    concentrated[0, 0, 1:11] = 10.0   # 10 pairs carry everything
    concentrated[0, 2, 3] = 1.0
    assert load_abilene().n_nodes == 12
    whole = plan(concentrated, MAX_PAIRS)
    assert len(whole.rates[0]) == 9 and whole.carried_share[0] == pytest.approx(90 / 101)
    cut = plan(concentrated, 5)
    assert sorted(cut.rates[0]) == [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5)]  # ties in row-major order
    assert cut.carried_share[0] == pytest.approx(50 / 101)


def test_oracle_pins_count_as_installed_only_when_the_pairs_view_shows_their_paths_and_shares():
    pins = {"1-3": {"paths": [[1, 2, 3], [1, 4, 3]], "weights": [0.3, 0.6]},  # shares 1/3, 2/3
            "3-1": {"paths": [[3, 2, 1]], "weights": [1.0]}}

    def view(first_shares, back_path=(3, 2, 1)):
        return [{"src": 1, "dst": 3, "paths": [{"path": [1, 2, 3], "weight": first_shares[0]},
                                               {"path": [1, 4, 3], "weight": first_shares[1]}]},
                {"src": 3, "dst": 1, "paths": [{"path": list(back_path), "weight": 1.0}]}]

    assert replay.pins_not_installed(pins, view((0.333, 0.667))) == []   # bucket weights 333/667
    assert replay.pins_not_installed(pins, view((0.5, 0.5))) == ["1-3"]  # the old split still
    assert replay.pins_not_installed(pins, view((0.333, 0.667), (3, 4, 1))) == ["3-1"]
    assert replay.pins_not_installed(pins, view((0.333, 0.667))[:1]) == ["3-1"]  # not routed yet


def test_the_oracle_pins_route_each_matrix_at_its_lp_optimum(tmp_path, monkeypatch):
    """Routed as pinned (paths walked link by link, dpid = node + 1), the offered demand loads
    no link beyond the LP optimum by more than dropping the parts under 1 % can add."""
    from controller.demand_policies import MIN_SHARE
    from topologies.datadir import DATA_DIR_ENV

    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "none"))  # seeded gravity traffic: no data needed
    plan, pathsets = replay.build_plan(_plan_args("abilene"))
    shaped = replay.sorted_network(replay.load_matrices("abilene", 4, 3)[0], plan.capacity_scale)
    capacity = {(u + 1, v + 1): c for (u, v), c in zip(shaped.links, shaped.capacity)}
    for rates, pathset, lp_mlu in zip(plan.rates, pathsets, plan.lp_mlu):
        pins = replay.oracle_pins(pathset, rates)
        assert set(pins) == {f"{s + 1}-{d + 1}" for s, d in rates}
        load = dict.fromkeys(capacity, 0.0)
        for (src, dst), rate in rates.items():
            body = pins[f"{src + 1}-{dst + 1}"]
            assert all(w >= MIN_SHARE for w in body["weights"])
            total = sum(body["weights"])
            for path, weight in zip(body["paths"], body["weights"]):
                assert path[0] == src + 1 and path[-1] == dst + 1
                for link in zip(path, path[1:]):
                    load[link] += rate * weight / total
        mlu = max(load[link] / capacity[link] for link in capacity)
        assert lp_mlu - 1e-6 <= mlu <= lp_mlu * 1.03


@pytest.mark.parametrize("topology", ["abilene", "geant"])
def test_dote_and_figret_replay_on_their_own_networks_paths(topology):
    from controller.settings import parse_settings

    if topology == "geant":
        require_data_or_skip("geant", "tunnels.txt")
    for name in ("dote", "figret"):
        parsed = parse_settings(replay._controller_settings(name, _plan(topology)))
        assert parsed.policy == name and parsed.topology == topology
        assert bool(parsed.tunnels) == (topology == "geant")  # GEANT's tunnels are its paths
        # one history entry per replayed matrix, as they learnt from one per matrix period
        timed = parse_settings(replay._controller_settings(name, _plan(topology), None, 20))
        assert timed.history_period == 20.0
        assert parse_settings(replay._controller_settings(name, _plan(topology), {"history_period": "0"},
                                                          20)).history_period == 0.0
    assert "history_period" not in replay._controller_settings("qnn-split", _plan(topology), None, 20)


def test_replay_settings_given_with_set_come_last_and_are_judged_by_the_controllers_check():
    from controller.settings import SettingsError

    settings = replay._controller_settings("qnn-split", _plan(), {"min_gain": "0.2", "demand_hold": "4"})
    assert settings["min_gain"] == "0.2" and settings["demand_hold"] == "4" and settings["split"] == "true"
    with pytest.raises(SettingsError, match="min_gainn"):
        replay._controller_settings("qnn-split", _plan(), {"min_gainn": "0.2"})
    with pytest.raises(SettingsError, match="demand_hold"):
        replay._controller_settings("qnn-split", _plan(), {"demand_hold": "-1"})
    assert replay.controller_setting(" min_gain = 0.2 ") == ("min_gain", "0.2")
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        replay.controller_setting("min_gain")
    for owned in ("policy=lp", "capacity_scale=1", "topology=geant"):
        with pytest.raises(argparse.ArgumentTypeError, match="the replay's own"):
            replay.controller_setting(owned)


@pytest.mark.parametrize("udp", [False, True], ids=["tcp", "udp"])
def test_a_real_iperf3_report_gives_its_sent_and_received_bytes(udp):
    """iperf3's own JSON over loopback (no root, no Mininet): the replay reads both transports'
    reports alike (UDP's receiver sum needs iperf3 3.10 or later, as the replay says)."""
    import shutil
    import socket
    import subprocess

    if not shutil.which("iperf3"):
        pytest.skip("iperf3 is not installed (make install puts it in)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port), "-B", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import time

        time.sleep(0.3)
        args = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", "1", "-J", "-l", "1448",
                "-b", "2000000"]
        out = subprocess.run(args + (["-u"] if udp else []), capture_output=True, text=True,
                             timeout=20).stdout
    finally:
        server.kill()
        server.wait()
    sent, received, seconds = replay.iperf3_figures(json.loads(out))
    assert 0.9 <= seconds <= 1.5
    assert 150_000 <= sent <= 400_000  # 2 Mbit/s for a second: 250 kB
    assert 0.9 * sent <= received <= sent  # nothing is lost on loopback
