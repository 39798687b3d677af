"""``qroute lab race``: the same real traffic routed live in Mininet by OSPF, the QNN, the MLP, the MILP.

    qroute lab race [--policies shortest-path,qnn,mlp,milp] [--seconds 20] [--trials N] [--json F]

For each policy, Abilene starts in Mininet under a fresh controller (``topology = abilene``, so
the controller knows capacities and OSPF weights), every host is made known (pingAll), and the
``--flows`` largest demands of one traffic matrix run as UDP iperf3 flows for ``--seconds``.
Their rates are the matrix's, scaled so that OSPF shortest paths would load their busiest link
to ``--overload`` times its capacity (heavy traffic, the regime the product claims to win). The
matrix is the busiest of the Abilene week's validation part (matrices the shipped checkpoints
were not trained on), or a seeded gravity-model matrix when the data directory is absent.

Every run routes by OSPF weights where it routes by shortest path (the learned policies' fallback
too); a learned policy whose checkpoint cannot be used stops the run instead of being reported
under its name. Measured per policy: delivered / offered traffic and per-flow loss (iperf3's
receiver counts; a flow without a receiver report is counted apart, and once more as fully
lost), the largest link utilisation the controller's port statistics saw in the steady part of
the run (after the learned policy has had rates to act on), flows moved and decisions that
failed. The bounds of the same flows on the same candidate paths are printed beside them:
split-routing LP and single-path MILP optimum (below 1.0, nothing need be lost). Needs root.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from controller.lab.workload import PolicyRun, Workload, build_workload, format_table
from controller.settings import CHOICES, LEARNED_POLICIES, SettingsError, parse_settings
from qnn.argtypes import at_least, names_from, nonnegative_int, positive_float, positive_int, writable_output

if TYPE_CHECKING:
    from controller.lab.mininet_lab import MininetLab

POLICIES = CHOICES["policy"]


def _steady_max_utilisation(lab: MininetLab, start_s: float, stop_s: float, started: float) -> float:
    """Largest per-link utilisation, averaged over the polls between start_s and stop_s."""
    samples: dict[tuple[int, int], list[float]] = {}
    while time.monotonic() - started < stop_s:
        if time.monotonic() - started >= start_s:
            for link in lab.rest("links"):
                samples.setdefault((link["src"], link["dst"]), []).append(link["utilisation"])
        time.sleep(1.0)
    return max((float(np.mean(v)) for v in samples.values()), default=float("nan"))


def run_policy(policy: str, workload: Workload, seconds: float,
               keep_margin: float | None = None) -> PolicyRun:
    # Mininet is imported by the functions that build networks: --help works without it
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab
    from topologies.mininet_topos import AbileneTopo, host_of

    settings = {"topology": "abilene", "routing_weight": "ospf", "stats_interval": "1.0",
                "reoptimize_interval": "2.0", "policy": policy}
    if keep_margin is not None and policy in LEARNED_POLICIES:
        settings["keep_margin"] = str(keep_margin)
    result = PolicyRun(policy)
    lab = MininetLab(AbileneTopo(), settings=settings)
    try:
        lab.start()
        lab.wait_until_ready()
        lab.require_policy(policy)
        lab.ping_all()
        before = lab.rest("state")  # count only what moves once traffic runs
        servers, clients = [], []
        ports = [5301 + i for i in range(len(workload.flows))]  # one iperf3 server per flow
        for port, (_src, dst, _mbps) in zip(ports, workload.flows):
            servers.append(lab.start_iperf3_server(host_of(dst), port))
        time.sleep(1.0)
        started = time.monotonic()
        for port, (src, dst, mbps) in zip(ports, workload.flows):
            clients.append(lab.start_iperf3_client(host_of(src), host_of(dst), port, seconds,
                                                   udp_mbps=mbps, datagram_bytes=1200))
        # the learned policy needs a few stats polls and a re-optimisation before it acts
        utilisation = {}
        watcher = threading.Thread(target=lambda: utilisation.update(
            value=_steady_max_utilisation(lab, 0.4 * seconds, 0.95 * seconds, started)))
        watcher.start()
        for (src, dst, mbps), process in zip(workload.flows, clients):
            report, reason = None, ""
            try:
                out, err = process.communicate(timeout=seconds + 30)
                report = json.loads(out)
                lost = float(report["end"]["sum"]["lost_percent"])
            except subprocess.TimeoutExpired:
                process.kill()
                reason = f"iperf3 client still running {seconds + 30:.0f} s after start"
            except (ValueError, KeyError, TypeError):
                reported = report.get("error") if isinstance(report, dict) else None
                reason = reported or err.strip() or out[-200:]
            if reason:
                # no receiver report (e.g. iperf3's TCP control connection lost on a congested
                # path): the flow's loss is unknown, so it is counted apart, not guessed
                result.failed_flows += 1
                result.unreported_mbps += mbps
                result.errors.append(f"{host_of(src)} -> {host_of(dst)}: {reason}")
                continue
            result.offered_mbps += mbps
            result.loss_percent.append(lost)
            result.delivered_mbps += mbps * (1 - lost / 100)
        watcher.join(timeout=30)
        result.max_utilisation = utilisation.get("value", float("nan"))
        after = lab.rest("state")
        result.flows_moved = after["flows_moved"] - before["flows_moved"]
        result.decision_failures = after["policy_failures"] - before["policy_failures"]
        for server in servers:
            server.terminate()
    finally:
        lab.stop()
        mininet.clean.cleanup()
    return result


def _keep_margin(text: str) -> float:
    """The learned policies' keep_margin, refused by the controller's own rule."""
    try:
        return parse_settings({"keep_margin": text}, source="controller settings").keep_margin
    except SettingsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policies", type=names_from(POLICIES), default=",".join(POLICIES),
                        help=f"comma-separated, from {', '.join(POLICIES)} (default: all)")
    parser.add_argument("--flows", type=positive_int, default=20, help="largest demands to send")
    parser.add_argument("--overload", type=positive_float, default=1.3,
                        help="OSPF's busiest link load / capacity the rates are scaled to")
    parser.add_argument("--seconds", type=at_least(5, float), default=20.0)
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="gravity traffic seed (no data directory)")
    parser.add_argument("--trials", type=positive_int, default=1,
                        help="repeat every policy; trials interleave the policies so drift hits all alike")
    parser.add_argument("--keep-margin", type=_keep_margin, default=None,
                        help="the learned policies' keep_margin (default: the controller's)")
    parser.add_argument("--json", help="write the results here")


def run(args: argparse.Namespace) -> int:
    if args.json:
        writable_output(args.json, "json", (".json",))
    import mininet.clean

    from topologies.mininet_topos import ABILENE_SCALE

    workload = build_workload(args.flows, args.overload, args.seed, capacity_scale=ABILENE_SCALE)
    runs = []
    mininet.clean.cleanup()  # each run cleans up after itself
    for trial in range(1, args.trials + 1):
        for policy in args.policies:
            print(f"trial {trial}/{args.trials}: {policy} ...", file=sys.stderr, flush=True)
            runs.append(run_policy(policy, workload, args.seconds, args.keep_margin))
    print(format_table(workload, runs))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"workload": asdict(workload), "trials": args.trials, "keep_margin": args.keep_margin,
                       "runs": [r.summary() for r in runs],
                       "command": shlex.join(["qroute", *sys.argv[1:]])}, f, indent=2)
            f.write("\n")
    return 0
