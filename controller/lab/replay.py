"""``qroute lab replay``: consecutive real traffic matrices replayed live in Mininet, one policy at
a time, with the MLU measured from the switches' port counters against the LP optimum.

    qroute lab replay --topology abilene|geant --policies spf,qnn,mlp --matrices START:COUNT
        --seconds-per-matrix T [--overload 1.0] [--streams 8] --json OUT --plot OUT.png

Traffic. The matrices are consecutive ones of the real data (Abilene's week of 5-minute
matrices, GEANT's ``tm-dev.hist`` of 15-minute ones; seeded gravity-model matrices for Abilene
without the data directory), each compressed to T seconds. Of each matrix, the largest demands
that together carry at least ``--volume-share`` (80 %) of its volume are sent. One scale factor
serves the whole sequence, so the traffic rises and falls as it did: OSPF shortest paths would
load their busiest link, in the busiest matrix, to ``--overload`` times its emulated capacity.
The emulated capacities are the real ones times a capacity scale (``capacity_scale`` of the
controller too), lowered from 1e-3 when the link traffic (sum over links of the planned OSPF
load) would pass :data:`LINK_TRAFFIC_CEILING_MBPS`, what Open vSwitch's userspace datapath on
2 cores forwards without loss of its own (see that constant for the measurement).

Traffic tool. Each switch pair is one iperf3 client with ``--streams`` parallel streams
(``-P``; the pair's rate divided evenly, each stream paced to its share with ``-b``),
restarted for every matrix, against one iperf3 server per pair that lives for the whole run.
TCP by default: the select-group data plane spreads a pair's traffic by hashing each packet's IP
addresses and TCP ports onto a weighted bucket, and Open vSwitch's userspace datapath does not
hash UDP ports, so all the UDP streams of one host pair take one bucket (measured:
docs/experiments.md, 2026-12-01). ``--transport udp`` sends paced UDP datagrams instead (iperf3
3.10 or later, whose client report carries the receiver's bytes): traffic that does not slow
down on a full link, which loses what the link cannot carry, but whose splits the switches do
not realise (one path a pair, whichever bucket its hash picks). ``--policies lp-oracle`` pins
every pair to the path-LP optimum of the demand its matrix offers, a static MLU-optimal
reference no controller could compute (:func:`oracle_pins`); ``--set KEY=VALUE`` gives every
policy's controller one more setting, and ``--runs N`` replays every policy N times (the spread
of one run's live ratio is large) and reports it. iperf3 rather than a generator of our own: it
is the tool the race and the tests already drive, and its reports (sender and receiver bytes)
are independent of the controller and of this module. The cost is a gap of about half a second
between matrices (iperf3's control connection is set up per test), and a test whose control
connection is lost on a congested path has no report: such pairs are counted apart per matrix
(:data:`CLIENT_GRACE_S`).

Measurement, independent of the controller: every ``--interval`` seconds ``ovs-ofctl dump-ports``
on every switch. A link's rate is the tx byte rate of its sending port; the MLU of an interval is
the largest rate over the link's shaped bandwidth (what Mininet's TCLink configured, read from
the link itself). A shaped link never sends above its bandwidth, so this MLU stops near 1.0 on
an overloaded link: the excess shows as TCP backing off, which is why the delivered share sits
beside it (per interval: bytes the switches sent to hosts over bytes they received from hosts;
per matrix: what iperf3's receivers got over what the pairs were paced to offer). The LP optimum
is :func:`qnn.lp.path_lp` of the offered demand (each pair's paced rate, with the frame headers of
full-size segments added, as the port counters count them) over the candidate paths the
controller uses (k=3 OSPF k-shortest, or GEANT's 3 tunnels per pair), on the shaped capacities:
the demand every policy is asked to carry, whereas what TCP senders manage to send depends on the
policy (a congested one sends less; the senders' own rates are recorded beside it). An
interval's live MLU ratio is its MLU over its matrix's LP optimum.

Each policy name stands for controller settings (:data:`POLICY_SETTINGS`); settings the
controller does not accept stop the run before any network is built. Needs root.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np

from qnn.argtypes import at_least, names_from, nonnegative_int, open_fraction, positive_float
from qnn.argtypes import writable_output

if TYPE_CHECKING:
    from controller.lab.mininet_lab import MininetLab
    from qnn.network import Network
    from qnn.paths import PathSet

# The policies a replay compares, as the controller settings each one stands for. Every run also
# gets the network's topology, OSPF routing weights (the learned policies' fallback too) and the
# capacity scale the links are shaped to (see _controller_settings).
POLICY_SETTINGS: dict[str, dict[str, str]] = {
    "spf": {"policy": "shortest-path", "routing_weight": "ospf"},
    "qnn": {"policy": "qnn", "split": "false"},
    "qnn-split": {"policy": "qnn", "split": "true"},
    "mlp": {"policy": "mlp", "split": "false"},
    "mlp-split": {"policy": "mlp", "split": "true"},
    "lp": {"policy": "lp"},
    "milp": {"policy": "milp"},
    "dote": {"policy": "dote"},
    "figret": {"policy": "figret"},
    # not a controller policy: a static MLU-optimal reference (see oracle_pins)
    "lp-oracle": {"policy": "shortest-path"},
}
ORACLE_POLICY = "lp-oracle"
PIN_INSTALL_TIMEOUT_S = 20.0  # the pins' decisions and their make-before-break plans
PIN_WEIGHT_TOLERANCE = 0.01    # pinned shares are installed as bucket weights (1/1000 steps)
TOPOLOGIES = ("abilene", "geant")
# The capacity scale of every lab tool (10 Gbit/s -> 10 Mbit/s) unless the ceiling asks for less.
DEFAULT_CAPACITY_SCALE = 1e-3
# Link traffic (Mbit/s summed over the directed links a flow crosses) that Open vSwitch's
# userspace datapath forwards in this lab on 2 cores without losing any: measured on Abilene
# with the links shaped to 1 Gbit/s (never the bottleneck), 24 switch pairs x 4 UDP streams of
# 1200-byte datagrams over OSPF paths of 2.5 hops on average: 150 Mbit/s offered (375 Mbit/s of
# link traffic) arrived in full; 200 Mbit/s (500) lost 15 % and 4 of the 24 iperf3 tests their
# report, 250 Mbit/s lost 38 %. The ceiling keeps the replay's OSPF link traffic at 2/3 of the
# loss-free figure, room for policies that take longer paths.
LINK_TRAFFIC_CEILING_MBPS = 250.0
# A full-size TCP segment's payload (MSS 1448 with timestamps on a 1500-byte MTU), also the size of
# each iperf3 write: with its default 128 KB writes a slow paced connection overshoots its rate
# (one write is seconds of its budget) and its test outlasts -t while the socket drains. What its
# frame carries besides (Ethernet 14, IPv4 20, TCP 20 + 12 of timestamps); iperf3 counts payload,
# port counters count frames. A tunnel's VLAN tag adds 4 more on the links between switches, not
# counted here (0.3 % of a frame), nor the receivers' ACKs (the other direction).
SEGMENT_PAYLOAD_BYTES = 1448
FRAME_OVERHEAD_BYTES = 66
# A UDP datagram's frame beside its payload (Ethernet 14, IPv4 20, UDP 8); the replay's datagrams
# carry a TCP segment's payload, so both transports load the links with frames of nearly one size.
UDP_FRAME_OVERHEAD_BYTES = 42
TRANSPORTS = ("tcp", "udp")
FIRST_PORT = 5301
# How long after its test should have ended a client is waited for (a client whose control
# connection stalls on a congested path is given up: that pair is counted as unreported).
CLIENT_GRACE_S = 5.0


# --- traffic, chosen without root ----------------------------------------------------------------

def first_unseen_matrix(*checkpoints: str) -> int:
    """The first Abilene matrix that none of ``checkpoints`` (default: the controller's two
    shipped ``qnn`` checkpoints, split and single-path) was trained to score, from each
    sidecar's time split."""
    from qnn.models.checkpoint import (CheckpointError, read_sidecar, resolve, shipped_checkpoint,
                                       trained_target_rows)

    names = checkpoints or [shipped_checkpoint("qnn", "abilene", single_path=single)
                            for single in (False, True)]
    first = 0
    for name in names:
        path = resolve(name)
        rows = trained_target_rows(read_sidecar(path))
        if not rows:  # without it every matrix would count as unseen, training ones included
            raise CheckpointError(path, "sidecar records no training split (split.train_pairs)")
        first = max(first, rows.stop)
    return first


def parse_matrix_range(text: str) -> tuple[int, int]:
    """``START:COUNT`` -> (start, count); argparse type."""
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if not match or int(match.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected START:COUNT (e.g. 0:5), COUNT at least 1")
    return int(match.group(1)), int(match.group(2))


def largest_demands(tm: np.ndarray, share: float) -> list[tuple[int, int]]:
    """The fewest pairs (largest demands first, ties in row-major order) whose demands carry at
    least ``share`` of the matrix's off-diagonal volume."""
    demands = np.array(tm, dtype=float)
    np.fill_diagonal(demands, 0.0)
    flat = demands.ravel()
    order = np.argsort(-flat, kind="stable")
    total = flat.sum()
    if total <= 0:
        return []
    carried = np.cumsum(flat[order])
    # a tolerance, so that a share met exactly is not missed by rounding in the running sum
    count = int(np.searchsorted(carried, share * total * (1 - 1e-12))) + 1
    n = demands.shape[0]
    return [(int(i // n), int(i % n)) for i in order[:count] if flat[i] > 0]


def stream_rates(rate_bps: float, streams: int) -> list[float]:
    """The per-stream rates of a pair sending ``rate_bps`` over ``streams`` parallel streams."""
    return [rate_bps / streams] * streams


def _overhead(transport: str) -> int:
    return UDP_FRAME_OVERHEAD_BYTES if transport == "udp" else FRAME_OVERHEAD_BYTES


def payload_rate(frame_bps: float, transport: str = "tcp") -> float:
    """The iperf3 payload rate of traffic that loads links at ``frame_bps`` (whole frames)."""
    return frame_bps * SEGMENT_PAYLOAD_BYTES / (SEGMENT_PAYLOAD_BYTES + _overhead(transport))


def frame_rate(payload_bps: float, transport: str = "tcp") -> float:
    """The link load of traffic carrying ``payload_bps`` of iperf3 payload."""
    return payload_bps * (SEGMENT_PAYLOAD_BYTES + _overhead(transport)) / SEGMENT_PAYLOAD_BYTES


def sorted_network(network: Network, capacity_scale: float) -> Network:
    """``network`` with its links in (src, dst) order, as the controller builds its own view of the
    live graph (so k-shortest ties break alike), and the capacities Mininet shapes the links to."""
    from qnn.network import Network
    from topologies.catalog import mininet_bandwidth

    order = sorted(range(network.n_links), key=lambda i: network.links[i])
    return Network(name=f"{network.name}-mininet", nodes=list(network.nodes),
                   links=[network.links[i] for i in order],
                   capacity=[mininet_bandwidth(network.capacity[i], capacity_scale)[0] * 1e6
                             for i in order],
                   weight=[network.weight[i] for i in order])


@dataclass
class ReplayPlan:
    topology: str
    source: str                      # where the matrices came from
    matrix_indices: list[int]
    capacity_scale: float            # real capacity -> Mininet bandwidth
    traffic_scale: float             # real demand (bit/s) -> replayed (bit/s)
    overload: float
    volume_share: float
    streams: int
    rates: list[dict[tuple[int, int], float]]   # per matrix: bit/s per (src, dst) node pair, frames
    ospf_mlu: list[float]            # planned, per matrix, on the shaped capacities
    link_traffic_mbps: list[float]   # planned OSPF link traffic per matrix
    real: bool
    lp_mlu: list[float] = field(default_factory=list)  # per matrix: the offered demand's optimum
    transport: str = "tcp"           # tcp: paced, elastic connections; udp: paced datagrams
    max_pairs: int | None = None     # at most this many pairs a matrix (None: volume_share decides)
    # per matrix: the share of its off-diagonal volume the chosen pairs carry (volume_share or
    # more; less where max_pairs cut the pairs)
    carried_share: list[float] = field(default_factory=list)

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """Every pair sent in some matrix, in a fixed order (their iperf3 ports follow it)."""
        return sorted({pair for rates in self.rates for pair in rates})

    def to_json(self) -> dict:
        out = asdict(self)
        out["rates"] = [[[s, d, rate] for (s, d), rate in sorted(r.items())] for r in self.rates]
        return out


def plan_replay(topology: str, network: Network, matrices: np.ndarray, indices: list[int], source: str,
                real: bool, overload: float, volume_share: float, streams: int,
                ceiling_mbps: float = LINK_TRAFFIC_CEILING_MBPS,
                capacity_scale: float = DEFAULT_CAPACITY_SCALE, max_pairs: int | None = None) -> ReplayPlan:
    """Choose each matrix's pairs (its largest demands carrying ``volume_share``, at most
    ``max_pairs`` of them) and one traffic scale for all of them: OSPF's busiest link, in the
    busiest matrix, at ``overload``; the capacity scale lowered (the traffic with it) until the
    busiest matrix's OSPF link traffic fits ``ceiling_mbps``."""
    from qnn.baselines import shortest_path_routing

    chosen = [largest_demands(matrices[i], volume_share)[:max_pairs] for i in indices]
    if not any(chosen):
        raise ValueError(f"{source}: matrices {indices[0]}..{indices[-1]} carry no traffic")
    # planned link loads at capacity scale 1 (real units); everything below is linear in scale
    real_network = sorted_network(network, 1.0)
    capacity = np.array([network.capacity[network.links.index(link)] for link in real_network.links])
    loads, utilisation = [], []
    for i, pairs in zip(indices, chosen):
        volume = np.array([matrices[i][p] for p in pairs])
        load = (shortest_path_routing(real_network, pairs).loads(volume)[0] if pairs
                else np.zeros(len(capacity)))
        loads.append(load)
        utilisation.append(float((load / capacity).max()))
    traffic_at_scale_1 = overload / max(utilisation)   # real demand -> bit/s at capacity scale 1
    busiest_link_traffic = max(float(load.sum()) for load in loads) * traffic_at_scale_1
    capacity_scale = min(capacity_scale, ceiling_mbps * 1e6 / busiest_link_traffic)
    shaped = sorted_network(network, capacity_scale)
    # shaped capacities may be clamped (topologies.catalog.mininet_bandwidth): the scale stays
    # the unclamped links' one, and the planned utilisation is recomputed on what is shaped
    traffic_scale = traffic_at_scale_1 * capacity_scale
    ospf_mlu = [float((load * traffic_scale / shaped.capacity).max()) for load in loads]
    rates = [{pair: float(matrices[i][pair] * traffic_scale) for pair in pairs}
             for i, pairs in zip(indices, chosen)]
    volumes = [float(matrices[i].sum() - np.trace(matrices[i])) for i in indices]
    carried = [float(sum(matrices[i][pair] for pair in pairs)) / volume if volume > 0 else 0.0
               for i, pairs, volume in zip(indices, chosen, volumes)]
    return ReplayPlan(topology, source, list(indices), capacity_scale, traffic_scale, overload,
                      volume_share, streams, rates, ospf_mlu,
                      [float(load.sum() * traffic_scale / 1e6) for load in loads], real,
                      max_pairs=max_pairs, carried_share=carried)


def load_matrices(topology: str, seed: int, needed: int):
    """``(network, matrices (T, N, N) bit/s, source, real)`` of ``topology``."""
    if topology == "abilene":
        from topologies.abilene import load_abilene, week_or_gravity

        matrices, source, real = week_or_gravity(n_synthetic=needed, seed=seed)
        return load_abilene(), matrices, source, real
    from topologies.datadir import require_data
    from topologies.geant import load_geant
    from topologies.traffic import load_traffic_matrices

    network = load_geant()  # needs the data directory, as GEANT's matrices do
    path = require_data("geant", "tm-dev.hist")
    return network, load_traffic_matrices(path, network.n_nodes), str(path), True


def candidate_pathset(topology: str, shaped: Network, pairs: list[tuple[int, int]]) -> PathSet:
    """The paths the controller chooses among for ``pairs``: GEANT's tunnels, else the k=3 OSPF
    shortest (as ``controller.demand_policies`` finds them on the live graph)."""
    from qnn.paths import PathSet, candidate_paths

    if topology == "geant":
        from topologies.geant import load_tunnels

        tunnels = load_tunnels(shaped)
        return PathSet(shaped, pairs, [tunnels[pair][:3] for pair in pairs], 3)
    return PathSet(shaped, pairs, candidate_paths(shaped, 3, weight="weight", demands=pairs), 3)


def oracle_pins(pathset: PathSet, rates: dict[tuple[int, int], float]) -> dict[str, dict]:
    """REST pin bodies (``"src-dst"`` in dpids -> paths and weights) of the path-LP optimum of
    the demand a matrix offers. No controller can measure that demand (TCP sends what the paths
    let it); pinned before the matrix starts, it is the static routing of least MLU over the
    same candidate paths: a reference for what routing can do on this testbed (optimal for MLU,
    not a bound on delivered traffic)."""
    from controller.demand_policies import MIN_SHARE  # a path's least weight, as in the controller's splits
    from qnn.lp import path_lp

    split = path_lp(pathset, np.array([rates[pair] for pair in pathset.demands])).split
    pins = {}
    for row, (src, dst) in enumerate(pathset.demands):
        parts = [(path, float(weight)) for path, weight in zip(pathset.paths[row], split[row])
                 if path and weight >= MIN_SHARE]
        pins[f"{src + 1}-{dst + 1}"] = {"paths": [[node + 1 for node in path] for path, _ in parts],
                                        "weights": [weight for _, weight in parts]}
    return pins


def pins_not_installed(pins: dict[str, dict], pairs_view: list[dict]) -> list[str]:
    """The pins (``"src-dst"`` -> REST pin body) that the controller's ``pairs`` view does not
    show installed: another set of paths, or a share off by more than PIN_WEIGHT_TOLERANCE."""
    installed = {f"{entry['src']}-{entry['dst']}": {tuple(p["path"]): p["weight"] for p in entry["paths"]}
                 for entry in pairs_view}
    missing = []
    for pair, body in pins.items():
        total = sum(body["weights"])
        wanted = {tuple(path): weight / total for path, weight in zip(body["paths"], body["weights"])}
        have = installed.get(pair, {})
        if set(have) != set(wanted) or any(abs(have[path] - share) > PIN_WEIGHT_TOLERANCE
                                           for path, share in wanted.items()):
            missing.append(pair)
    return missing


def tunnels_file(topology: str) -> str | None:
    if topology != "geant":
        return None
    from topologies.datadir import require_data

    return str(require_data("geant", "tunnels.txt"))


# --- measurement, pure ---------------------------------------------------------------------------

@dataclass
class CounterSample:
    """One reading of one switch's port counters: when (monotonic s) and the tx/rx bytes per port."""
    t: float
    tx: dict[int, int]
    rx: dict[int, int]


def link_rates(before: dict[str, CounterSample], after: dict[str, CounterSample],
               links: dict[tuple[int, int], tuple[str, int]]) -> dict[tuple[int, int], float]:
    """bit/s per directed link between two readings; ``links[(u, v)] = (switch, port)`` sending
    u -> v. Each switch's rates use its own reading times."""
    rates = {}
    for link, (switch, port) in links.items():
        a, b = before[switch], after[switch]
        if b.t > a.t and port in a.tx and port in b.tx:
            rates[link] = max(0, b.tx[port] - a.tx[port]) * 8 / (b.t - a.t)
    return rates


def interval_mlu(rates: dict[tuple[int, int], float],
                 capacity: dict[tuple[int, int], float]) -> tuple[float, tuple[int, int] | None]:
    """The largest rate / capacity over the links, and that link."""
    if not rates:
        return float("nan"), None
    busiest = max(rates, key=lambda link: rates[link] / capacity[link])
    return rates[busiest] / capacity[busiest], busiest


def host_port_bytes(before: dict[str, CounterSample], after: dict[str, CounterSample],
                    host_ports: dict[str, list[int]]) -> tuple[int, int]:
    """(bytes the switches received from hosts, bytes they sent to hosts) between two readings."""
    offered = delivered = 0
    for switch, ports in host_ports.items():
        for port in ports:
            offered += max(0, after[switch].rx.get(port, 0) - before[switch].rx.get(port, 0))
            delivered += max(0, after[switch].tx.get(port, 0) - before[switch].tx.get(port, 0))
    return offered, delivered


_PORT_LINE = re.compile(r"port\s+\"?(\w+)\"?:\s+rx pkts=\d+, bytes=(\d+),.*?\n\s+tx pkts=\d+, bytes=(\d+),",
                        re.S)


def parse_dump_ports(text: str) -> tuple[dict[int, int], dict[int, int]]:
    """``ovs-ofctl dump-ports`` output -> (tx bytes, rx bytes) per numbered port (LOCAL left out)."""
    tx, rx = {}, {}
    for name, rx_bytes, tx_bytes in _PORT_LINE.findall(text):
        if name.isdigit():
            tx[int(name)], rx[int(name)] = int(tx_bytes), int(rx_bytes)
    return tx, rx


def steady_interval(t0: float, t1: float, seconds: float, settle_s: float) -> bool:
    """Whether an interval from ``t0`` to ``t1`` s after its matrix's clients were started lies
    wholly in the matrix's steady part: from ``settle_s`` until its ``seconds`` of traffic end."""
    return settle_s <= t0 and t1 <= seconds


def summarise(values) -> dict:
    """mean and 90th percentile (linear interpolation) of the finite values, with their count."""
    finite = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not finite.size:
        return {"mean": None, "p90": None, "n": 0}
    return {"mean": round(float(finite.mean()), 4), "p90": round(float(np.percentile(finite, 90)), 4),
            "n": int(finite.size)}


def iperf3_figures(report: dict) -> tuple[int, int, float]:
    """(sender bytes, receiver bytes, sender seconds) of an iperf3 client's JSON report (TCP, or
    UDP from iperf3 3.10 on, whose report has the server's received sum too)."""
    sent, received = report["end"]["sum_sent"], report["end"]["sum_received"]
    return int(sent["bytes"]), int(received["bytes"]), float(sent["seconds"])


# --- the live run ---------------------------------------------------------------------------------

def _controller_settings(policy: str, plan: ReplayPlan, overrides: dict[str, str] | None = None,
                         seconds_per_matrix: float | None = None) -> dict[str, str]:
    """The controller settings of ``policy`` for this replay, with ``overrides`` (``--set``) last;
    SettingsError (a ValueError) naming the policy when this controller does not accept them.
    DOTE and FIGRET learnt from one demand vector per matrix: their history period is the
    time a replayed matrix lasts (``seconds_per_matrix``)."""
    from controller.settings import (CANDIDATE_PATH_POLICIES, TOPOLOGY_SPECIFIC_POLICIES, Settings,
                                     SettingsError, parse_settings)

    known = {f.name for f in fields(Settings)}
    per_matrix = ({"history_period": repr(float(seconds_per_matrix))}
                  if seconds_per_matrix and "history_period" in known
                  and POLICY_SETTINGS[policy]["policy"] in TOPOLOGY_SPECIFIC_POLICIES else {})
    settings = {"topology": plan.topology, "routing_weight": "ospf", "stats_interval": "1.0",
                "reoptimize_interval": "2.0", "capacity_scale": repr(plan.capacity_scale),
                # every decision of the run is read at its end (decision_timeline)
                "decision_log_size": str(DECISION_LOG_SIZE),
                **POLICY_SETTINGS[policy], **per_matrix, **(overrides or {})}
    if "split" not in known and settings.get("split") == "false":
        # a controller without the option routes every pair over one path: what false asks for
        del settings["split"]
    tunnels = tunnels_file(plan.topology)
    if tunnels and settings["policy"] in CANDIDATE_PATH_POLICIES:
        settings["tunnels"] = tunnels
    try:
        parse_settings(settings, source=f"replay policy {policy}")
    except SettingsError as error:
        asked = ", ".join(f"{key} = {value}"
                          for key, value in {**POLICY_SETTINGS[policy], **(overrides or {})}.items())
        raise SettingsError(f"{policy} ({asked}) is not accepted by this controller:\n{error}") from None
    return settings


@dataclass
class MatrixResult:
    index: int
    started_s: float = 0.0
    stopped_s: float = 0.0
    offered_bytes: int = 0   # payload the reported pairs were paced to send
    sent_bytes: int = 0
    received_bytes: int = 0
    sender_bps: dict = field(default_factory=dict)  # what TCP sent, "src-dst" -> bit/s of frames
    lp_mlu: float = float("nan")
    unreported_pairs: list[str] = field(default_factory=list)

    @property
    def delivered_share(self) -> float | None:
        return self.received_bytes / self.offered_bytes if self.offered_bytes else None


@dataclass
class PolicyReplay:
    policy: str
    settings: dict
    intervals: list[dict] = field(default_factory=list)
    matrices: list[MatrixResult] = field(default_factory=list)
    pairs_changed: int | None = 0   # switch pairs rerouted or reweighted by the controller
    decision_failures: int | None = 0
    wall_s: float = 0.0
    decisions: list[dict] = field(default_factory=list)  # the controller's, see decision_timeline
    run: int = 1                    # which of the --runs of this policy

    def summary(self) -> dict:
        steady = [i for i in self.intervals if i["steady"]]
        offered = sum(m.offered_bytes for m in self.matrices)
        received = sum(m.received_bytes for m in self.matrices)
        return {"policy": self.policy,
                "mlu": summarise(i["mlu"] for i in steady),
                "mlu_ratio": summarise(i["mlu_ratio"] for i in steady),
                "delivered_share": round(received / offered, 4) if offered else None,
                "unreported_pairs": sum(len(m.unreported_pairs) for m in self.matrices),
                "pairs_changed": self.pairs_changed, "decision_failures": self.decision_failures,
                "decisions": decision_summary(self.decisions),
                "wall_s": round(self.wall_s, 1)}


def decision_timeline(records: list[dict], wall_origin: float) -> list[dict]:
    """The controller's decision records (``GET decisions``) that changed something, in replay
    time (s since the first interval began, as the intervals): when each ended, what moved, and
    how long deciding and installing took, so that a policy's reaction can be read beside its
    MLU. Decisions before the traffic (hosts learned) have negative times."""
    timeline = []
    for record in records:
        if not any(record["moved"].values()) and not record.get("aborted"):
            continue
        ended = record["time"] + (record["decision_ms"] + record["install_ms"]) / 1000
        timeline.append({"ended_s": round(ended - wall_origin, 3), "kind": record["kind"],
                         "policy": record["policy"], "fallback": record["fallback"],
                         "moved": record["moved"], "decision_ms": record["decision_ms"],
                         "install_ms": record["install_ms"], "aborted": record.get("aborted", []),
                         "predicted_mlu": record.get("predicted_mlu"),
                         "mlu_before": record.get("mlu_before")})
    return timeline


def decision_summary(timeline: list[dict]) -> dict:
    """How many decisions were installed once the traffic had started (the start-up decisions,
    hosts learned one by one, are left out) and how many plans stopped part-way (a switch did
    not answer); the installed ones' decision and install times (mean, p90)."""
    timeline = [d for d in timeline if d["ended_s"] >= 0]
    installed = [d for d in timeline if not d["aborted"]]
    return {"installed": len(installed),
            "decision_ms": summarise(d["decision_ms"] for d in installed),
            "install_ms": summarise(d["install_ms"] for d in installed),
            "fell_back": sum(1 for d in timeline if d["fallback"]),
            "aborted": len(timeline) - len(installed)}


class PortSampler(threading.Thread):
    """Reads every switch's port counters every ``interval`` s until stopped; each interval's
    figures go to ``on_interval(t0, t1, rates, offered_bytes, delivered_bytes)``."""

    def __init__(self, switches: list[str], links, host_ports, interval: float, on_interval):
        super().__init__(daemon=True)
        self.switches, self.links, self.host_ports = switches, links, host_ports
        self.interval, self.on_interval = interval, on_interval
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def read(self) -> dict[str, CounterSample]:
        samples = {}
        for switch in self.switches:
            start = time.monotonic()
            out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", switch],
                                 capture_output=True, text=True, check=True).stdout
            tx, rx = parse_dump_ports(out)
            samples[switch] = CounterSample((start + time.monotonic()) / 2, tx, rx)
        return samples

    def run(self):
        try:
            before = self.read()
            first = self.switches[0]  # its reading times stand for the interval's
            while not self.stopping.wait(max(0.0, self.interval - (time.monotonic() - before[first].t))):
                after = self.read()
                offered, delivered = host_port_bytes(before, after, self.host_ports)
                self.on_interval(before[first].t, after[first].t, link_rates(before, after, self.links),
                                 offered, delivered)
                before = after
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            self.error = error


def lab_wiring(lab: MininetLab):
    """(switch names, {(u, v) node link: (switch, port)}, {switch: host ports},
    {(u, v): shaped bit/s}) of a running lab; node u is switch s<u+1>."""
    links, capacity, host_ports = {}, {}, {}
    for link in lab.net.links:
        ends = [(link.intf1.node, link.intf1), (link.intf2.node, link.intf2)]
        switches = [node for node, _ in ends if node in lab.net.switches]
        if len(switches) == 2:
            for (node, intf), (peer, _) in (ends, ends[::-1]):
                u, v = int(node.name[1:]) - 1, int(peer.name[1:]) - 1
                links[(u, v)] = (node.name, node.ports[intf])
                capacity[(u, v)] = float(intf.params["bw"]) * 1e6
        elif len(switches) == 1:
            for node, intf in ends:
                if node in lab.net.switches:
                    host_ports.setdefault(node.name, []).append(node.ports[intf])
    return [s.name for s in lab.net.switches], links, host_ports, capacity


def _replay_matrix(lab: MininetLab, index: int, rates: dict[tuple[int, int], float], pathset: PathSet,
                   ports: dict[tuple[int, int], int], streams: int, seconds: float,
                   lp_mlu: float, transport: str = "tcp") -> MatrixResult:
    """One matrix's clients, run to their end: the matrix's offered, sent and received bytes
    and the senders' rates, beside ``lp_mlu`` (the offered demand's LP optimum). TCP streams are
    paced to their rate and slow down where a path is full; UDP streams send at it whatever
    arrives (what a full link cannot carry is lost)."""
    from topologies.mininet_topos import host_of

    outcome = MatrixResult(index, lp_mlu=lp_mlu)

    def client(pair, rate):
        stream_mbps = payload_rate(stream_rates(rate, streams)[0], transport) / 1e6
        pace = {"udp_mbps": stream_mbps} if transport == "udp" else {"paced_mbps": stream_mbps}
        return lab.start_iperf3_client(host_of(pair[0]), host_of(pair[1]), ports[pair], seconds,
                                       datagram_bytes=SEGMENT_PAYLOAD_BYTES, streams=streams, **pace)

    clients = {pair: client(pair, rate) for pair, rate in rates.items()}
    deadline = time.monotonic() + seconds + CLIENT_GRACE_S
    for pair in pathset.demands:
        process, name = clients[pair], f"{pair[0]}-{pair[1]}"
        sent = duration = report = None
        try:
            out, err = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
            report = json.loads(out)
            sent, received, duration = iperf3_figures(report)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            reason = "no report in time"
        except (ValueError, KeyError, TypeError):
            # e.g. its TCP control connection lost on a congested path
            reason = (report.get("error") if isinstance(report, dict) else None) or err.strip()[-120:]
        if sent is None or not duration:
            outcome.unreported_pairs.append(f"{name}: {reason}")
            continue
        outcome.offered_bytes += round(payload_rate(rates[pair], transport) * duration / 8)
        outcome.sent_bytes += sent
        outcome.received_bytes += received
        outcome.sender_bps[name] = round(frame_rate(sent * 8 / duration, transport), 1)
    return outcome


def _grown(before: dict, after: dict, key: str) -> int | None:
    """How much a counter of the controller's REST state grew (None where it has no such counter:
    the controller's own view is only reported beside the replay's measurements)."""
    if key not in before or key not in after:
        return None
    return after[key] - before[key]


def _pin_all(lab: MininetLab, pins: dict[str, dict]) -> None:
    for pair, body in pins.items():
        status, reply = lab.rest_write("PUT", f"pins/{pair}", body)
        if status != 200:
            raise RuntimeError(f"pinning {pair} to {body} was refused ({status}: {reply})")
    deadline = time.monotonic() + PIN_INSTALL_TIMEOUT_S
    while True:
        state = lab.rest("state")
        missing = pins_not_installed(pins, state["pairs"])
        if not missing and not state["rerouting"]:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(missing)} of {len(pins)} oracle pins not installed within "
                               f"{PIN_INSTALL_TIMEOUT_S:g} s (e.g. {', '.join(missing[:5])})")
        time.sleep(0.1)


def replay_policy(policy: str, plan: ReplayPlan, pathsets: list[PathSet], seconds: float,
                  interval: float, settle_s: float, overrides: dict[str, str] | None = None) -> PolicyReplay:
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab
    from topologies.mininet_topos import AbileneTopo, GeantTopo, host_of

    settings = _controller_settings(policy, plan, overrides, seconds)
    result = PolicyReplay(policy, settings)
    topo = (AbileneTopo if plan.topology == "abilene" else GeantTopo)(scale=plan.capacity_scale)
    lab = MininetLab(topo, settings=settings)
    began = time.monotonic()
    try:
        lab.start()
        lab.wait_until_ready(timeout=120)
        lab.require_policy(settings["policy"])
        lab.ping_all()
        before = lab.rest("state")
        switches, links, host_ports, capacity = lab_wiring(lab)
        ports = {pair: FIRST_PORT + n for n, pair in enumerate(plan.pairs)}
        servers = [lab.start_iperf3_server(host_of(dst), port, one_test=False)
                   for (_src, dst), port in ports.items()]
        time.sleep(1.0)
        current: dict = {"matrix": None, "since": 0.0}
        origin, wall_origin = time.monotonic(), time.time()

        def record(t0, t1, rates, offered, delivered):
            mlu, busiest = interval_mlu(rates, capacity)
            result.intervals.append({
                "t0": round(t0 - origin, 3), "t1": round(t1 - origin, 3), "matrix": current["matrix"],
                "steady": current["matrix"] is not None and steady_interval(
                    t0 - current["since"], t1 - current["since"], seconds, settle_s),
                "mlu": round(mlu, 4), "busiest_link": list(busiest) if busiest else None,
                "offered_mbps": round(offered * 8 / (t1 - t0) / 1e6, 3),
                "delivered_mbps": round(delivered * 8 / (t1 - t0) / 1e6, 3),
                "link_mbps": {f"{u}-{v}": round(r / 1e6, 3) for (u, v), r in sorted(rates.items())}})

        sampler = PortSampler(switches, links, host_ports, interval, record)
        sampler.start()
        try:
            for index, rates, pathset, lp_mlu in zip(plan.matrix_indices, plan.rates, pathsets,
                                                     plan.lp_mlu):
                if policy == ORACLE_POLICY:
                    _pin_all(lab, oracle_pins(pathset, rates))
                current.update(matrix=index, since=time.monotonic())
                outcome = _replay_matrix(lab, index, rates, pathset, ports, plan.streams, seconds,
                                         lp_mlu, plan.transport)
                outcome.started_s = round(current["since"] - origin, 3)
                outcome.stopped_s = round(time.monotonic() - origin, 3)
                result.matrices.append(outcome)
            current.update(matrix=None)
            time.sleep(interval)
        finally:
            sampler.stopping.set()
            sampler.join(timeout=30)
            for server in servers:
                server.terminate()
        if sampler.error:
            raise RuntimeError(f"reading port counters failed: {sampler.error}")
        lp_of = {m.index: m.lp_mlu for m in result.matrices}
        for entry in result.intervals:
            lp = lp_of.get(entry["matrix"])
            entry["lp_mlu"] = round(lp, 4) if lp is not None else None
            entry["mlu_ratio"] = round(entry["mlu"] / lp, 4) if lp and np.isfinite(entry["mlu"]) else None
        after = lab.rest("state")
        log = lab.rest("decisions")
        if log["decisions"] and log["decisions"][0]["number"] > 1:
            print(f"{policy}: the controller's first {log['decisions'][0]['number'] - 1} decisions "
                  f"fell out of its log of {log['size']}: the decision figures miss them",
                  file=sys.stderr, flush=True)
        result.decisions = decision_timeline(log["decisions"], wall_origin)
        changed = [_grown(before, after, key) for key in ("pairs_rerouted", "pairs_reweighted")]
        result.pairs_changed = None if None in changed else sum(changed)
        result.decision_failures = _grown(before, after, "policy_failures")
    finally:
        lab.stop()
        mininet.clean.cleanup()
    result.wall_s = time.monotonic() - began
    return result


def plot(runs: list[PolicyReplay], plan: ReplayPlan, seconds: float, path: str) -> None:
    """Measured MLU of every steady interval per policy against replay time (matrix i occupies
    ``i * seconds`` to ``(i + 1) * seconds``, whatever each policy's run took between matrices)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    position = {index: n for n, index in enumerate(plan.matrix_indices)}
    fig, ax = plt.subplots(figsize=(10, 4.5))
    several = any(run.run > 1 for run in runs)
    for run in (run for run in runs if run.run == 1):  # one line a policy: its first run
        started = {m.index: m.started_s for m in run.matrices}
        times, mlus, last = [], [], None
        for entry in (i for i in run.intervals if i["steady"]):
            if last is not None and entry["matrix"] != last:
                times.append(np.nan)  # a break in the line where the matrices change
                mlus.append(np.nan)
            middle = (entry["t0"] + entry["t1"]) / 2 - started[entry["matrix"]]
            times.append(position[entry["matrix"]] * seconds + middle)
            mlus.append(entry["mlu"])
            last = entry["matrix"]
        if times:
            ax.plot(times, mlus, marker=".", label=f"{run.policy} (run 1)" if several else run.policy)
    if runs and runs[0].matrices:
        lp = [(x, m.lp_mlu) for m in runs[0].matrices
              for x in (position[m.index] * seconds, (position[m.index] + 1) * seconds)]
        ax.plot(*zip(*lp), linestyle="--", color="black", label="LP optimum (the offered demand)")
    for n in range(1, len(plan.matrix_indices)):
        ax.axvline(n * seconds, color="grey", linewidth=0.5)
    ax.axhline(1.0, color="red", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"replay seconds ({seconds:g} s per matrix, grey lines between; steady intervals)")
    ax.set_ylabel("measured MLU (busiest link tx / shaped capacity)")
    ax.set_title(f"{plan.topology}: matrices {plan.matrix_indices[0]}..{plan.matrix_indices[-1]} "
                 f"of {plan.source.rsplit('/', 1)[-1]}, OSPF planned peak {max(plan.ospf_mlu):.2f}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


COUNT_COLUMNS = ("unreported_pairs", "pairs_changed", "decision_failures")
DECISION_LOG_SIZE = 5000


def cell(value, pattern: str = "{:.3f}") -> str:
    """A table cell: "–" for a figure not measured."""
    return "–" if value is None else pattern.format(value)


def format_table(runs: list[PolicyReplay]) -> str:
    from qnn.tables import markdown_table

    rows = []
    order = list(dict.fromkeys(run.policy for run in runs))
    several = any(run.run > 1 for run in runs)
    for run in sorted(runs, key=lambda run: (order.index(run.policy), run.run)):
        s = run.summary()
        rows.append([f"{run.policy} (run {run.run})" if several else run.policy,
                     cell(s["mlu_ratio"]["mean"]), cell(s["mlu_ratio"]["p90"]),
                     cell(s["mlu"]["mean"]), cell(s["mlu"]["p90"]),
                     cell(s["delivered_share"] and 100 * s["delivered_share"], "{:.1f}"),
                     *(cell(s[key], "{}") for key in COUNT_COLUMNS),
                     cell(s["decisions"]["installed"], "{}"), cell(s["decisions"]["aborted"], "{}"),
                     cell(s["decisions"]["install_ms"]["mean"], "{:.0f}"),
                     f"{run.wall_s:.0f}"])
    header = ("policy", "MLU/LP mean", "MLU/LP p90", "MLU mean", "MLU p90", "delivered %",
              "pair-matrices unreported", "pairs changed", "failed decisions",
              "installs", "plans stopped", "install ms", "wall s")
    return markdown_table(header, rows, "l" + "r" * (len(header) - 1))


def across_runs(runs: list[PolicyReplay]) -> dict[str, dict]:
    """Per policy, the spread of its runs' live MLU ratio means and its mean delivered share:
    mean, sample standard deviation (None for one run), min, max and each run's value."""
    out: dict[str, dict] = {}
    for policy in dict.fromkeys(run.policy for run in runs):
        summaries = [run.summary() for run in runs if run.policy == policy]
        ratios = [s["mlu_ratio"]["mean"] for s in summaries if s["mlu_ratio"]["mean"] is not None]
        delivered = [s["delivered_share"] for s in summaries if s["delivered_share"] is not None]
        out[policy] = {
            "runs": len(summaries), "mlu_ratio_means": ratios,
            "mean": round(float(np.mean(ratios)), 4) if ratios else None,
            "sd": round(float(np.std(ratios, ddof=1)), 4) if len(ratios) > 1 else None,
            "min": min(ratios, default=None), "max": max(ratios, default=None),
            "delivered_share": round(float(np.mean(delivered)), 4) if delivered else None}
    return out


def format_spread(runs: list[PolicyReplay]) -> str:
    from qnn.tables import markdown_table

    rows = [[policy, str(a["runs"]), cell(a["mean"]), cell(a["sd"]), cell(a["min"]), cell(a["max"]),
             ", ".join(f"{r:.3f}" for r in a["mlu_ratio_means"]),
             cell(a["delivered_share"] and 100 * a["delivered_share"], "{:.1f}")]
            for policy, a in across_runs(runs).items()]
    header = ("policy", "runs", "live MLU ratio, mean of runs", "sd", "min", "max", "each run",
              "delivered %")
    return markdown_table(header, rows, "lrrrrrlr")


def _git_commit() -> str:
    from controller.lab.mininet_lab import REPO_ROOT

    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD")
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", choices=TOPOLOGIES, default="abilene")
    parser.add_argument("--policies", type=names_from(tuple(POLICY_SETTINGS)), default="spf,qnn,mlp",
                        help=f"comma-separated, from {', '.join(POLICY_SETTINGS)} (default: spf,qnn,mlp; "
                             f"{ORACLE_POLICY}: the path-LP optimum of each matrix's offered demand, pinned "
                             f"before it starts: a static MLU-optimal reference)")
    parser.add_argument("--matrices", type=parse_matrix_range, default=(0, 5), metavar="START:COUNT",
                        help="consecutive matrices of the data, from START (default 0:5)")
    parser.add_argument("--seconds-per-matrix", type=at_least(4, int), default=10,
                        help="each matrix is replayed this long (whole seconds, as iperf3 takes them)")
    parser.add_argument("--overload", type=positive_float, default=1.0,
                        help="OSPF's busiest link load / capacity in the busiest matrix (default 1.0)")
    parser.add_argument("--volume-share", type=open_fraction, default=0.8,
                        help="the largest demands carrying this share of each matrix are sent (0.8)")
    parser.add_argument("--max-pairs", type=at_least(1, int), default=None,
                        help="at most this many of each matrix's largest demands (default: as many as "
                             "--volume-share takes)")
    parser.add_argument("--streams", type=at_least(1, int), default=8,
                        help="parallel streams (TCP connections or UDP sockets) per pair")
    parser.add_argument("--transport", choices=TRANSPORTS, default="tcp",
                        help="tcp (default): paced connections that slow down on a full path; udp: paced "
                             "datagrams that keep their rate (a full link drops what it cannot carry)")
    parser.add_argument("--interval", type=positive_float, default=1.0, help="port counter period, s")
    parser.add_argument("--settle", type=nonnegative_int, default=1,
                        help="seconds after a matrix starts left out of the summaries, as is the end of its "
                             "traffic (default 1)")
    parser.add_argument("--ceiling-mbps", type=positive_float, default=LINK_TRAFFIC_CEILING_MBPS,
                        help="OSPF link traffic the datapath is trusted with (Mbit/s)")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="gravity traffic seed (no data directory)")
    parser.add_argument("--set", type=controller_setting, action="append", default=[], metavar="KEY=VALUE",
                        dest="overrides",
                        help="a controller setting for every policy's run, after the replay's own "
                             "(e.g. min_gain=0.2); repeatable")
    parser.add_argument("--runs", type=at_least(1, int), default=1,
                        help="replay every policy this many times, each on a fresh network (their "
                             "order interleaved), and report the spread of their live MLU ratios: one "
                             "run's mean moves by 0.05-0.1 from run to run (default 1)")
    parser.add_argument("--json", help="write every interval's figures here")
    parser.add_argument("--plot", help="write the MLU-over-time plot here (.png)")


# what each replayed policy is, and what the lab built: a --set of these would run every row as
# something its label does not say, or a controller at odds with the network it drives
REPLAY_OWNED_SETTINGS = ("policy", "split", "topology", "capacity_scale", "routing_weight", "tunnels",
                         "api_token", "api_token_file", "state_file")


def controller_setting(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` -> (key, value); the controller's settings check judges them."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"wants KEY=VALUE (a [qroute] setting), got {text!r}")
    if key in REPLAY_OWNED_SETTINGS:
        raise argparse.ArgumentTypeError(f"{key} is the replay's own (the policies and the network set it); "
                                         f"choose policies with --policies")
    return key, value.strip()


def build_plan(args) -> tuple[ReplayPlan, list[PathSet]]:
    start, count = args.matrices
    network, matrices, source, real = load_matrices(args.topology, args.seed, start + count)
    if start + count > len(matrices):
        raise ValueError(f"{source} has {len(matrices)} matrices, not {start}..{start + count - 1}")
    plan = plan_replay(args.topology, network, matrices, list(range(start, start + count)), source, real,
                       args.overload, args.volume_share, args.streams, args.ceiling_mbps,
                       max_pairs=getattr(args, "max_pairs", None))
    plan.transport = getattr(args, "transport", "tcp")
    from qnn.lp import path_lp

    shaped = sorted_network(network, plan.capacity_scale)
    pathsets = [candidate_pathset(args.topology, shaped, sorted(rates)) for rates in plan.rates]
    # the LP optimum of what each matrix offers: the same for every policy, so solved once here
    plan.lp_mlu = [float(path_lp(pathset, np.array([rates[pair] for pair in pathset.demands])).mlu)
                   for pathset, rates in zip(pathsets, plan.rates)]
    return plan, pathsets


def _write_json(args, plan: ReplayPlan, runs: list[PolicyReplay], began: float, retried: list[str],
                complete: bool) -> None:
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump({"command": shlex.join(["qroute", *sys.argv[1:]]), "commit": _git_commit(),
                   "complete": complete, "retried_starts": retried,
                   "seed": args.seed, "seconds_per_matrix": args.seconds_per_matrix,
                   "interval_s": args.interval, "settle_s": args.settle, "plan": plan.to_json(),
                   "wall_s": round(time.monotonic() - began, 1),
                   "runs_per_policy": args.runs,
                   "summary": [{**r.summary(), "run": r.run} for r in runs],
                   "across_runs": across_runs(runs),
                   "runs": [{"policy": r.policy, "run": r.run, "settings": r.settings,
                             "matrices": [{**asdict(m), "delivered_share": m.delivered_share}
                                          for m in r.matrices],
                             "intervals": r.intervals, "decisions": r.decisions}
                            for r in runs]}, f, indent=1)
        f.write("\n")


def run(args: argparse.Namespace) -> int:
    if args.json:
        writable_output(args.json, "json", (".json",))
    if args.plot:
        writable_output(args.plot, "plot", (".png",))
        import matplotlib  # noqa: F401 - refuse before the replay, not after it
    plan, pathsets = build_plan(args)
    overrides = dict(args.overrides)
    for policy in args.policies:  # every policy's settings checked before the first network
        _controller_settings(policy, plan, overrides, args.seconds_per_matrix)
    print(f"{plan.topology}: matrices {plan.matrix_indices} of {plan.source}; "
          f"{len(plan.pairs)} pairs, {np.mean([len(r) for r in plan.rates]):.0f} per matrix, "
          f"{plan.streams} {plan.transport.upper()} streams each; capacity scale {plan.capacity_scale:.3g}; "
          f"OSPF planned MLU {', '.join(f'{u:.2f}' for u in plan.ospf_mlu)}; "
          f"offered {', '.join(f'{sum(r.values()) / 1e6:.1f}' for r in plan.rates)} Mbit/s",
          file=sys.stderr, flush=True)
    import mininet.clean

    mininet.clean.cleanup()
    runs: list[PolicyReplay] = []
    began = time.monotonic()
    retried: list[str] = []
    for number in range(1, args.runs + 1):
        for policy in args.policies:  # interleaved: a slow spell of the machine hits every policy
            label = f"{policy}{f' (run {number} of {args.runs})' if args.runs > 1 else ''}"
            print(f"{label} ...", file=sys.stderr, flush=True)
            try:
                result = replay_policy(policy, plan, pathsets, args.seconds_per_matrix, args.interval,
                                       args.settle, overrides)
            except TimeoutError as error:  # the lab's controller never answered: nothing measured
                print(f"{label}: {error}; starting it once more", file=sys.stderr, flush=True)
                retried.append(f"{label}: {error}")
                result = replay_policy(policy, plan, pathsets, args.seconds_per_matrix, args.interval,
                                       args.settle, overrides)
            result.run = number
            runs.append(result)
            if args.json:  # after every run: a later failure keeps what was measured
                _write_json(args, plan, runs, began, retried, complete=False)
    print(format_table(runs))
    if args.runs > 1:
        print()
        print(format_spread(runs))
    if args.plot:
        plot(runs, plan, args.seconds_per_matrix, args.plot)
    if args.json:
        _write_json(args, plan, runs, began, retried, complete=True)
    return 0
