"""``qroute lab failover``: outage of a 100 pps ping stream when a link on its path fails.

    sudo .venv/bin/qroute lab failover --trials 5 --seed 1 --json out.json
    sudo .venv/bin/qroute lab failover --topology geant      # or --topology PATH (a topology file)

On geant or a topology file the controller is told the network (``topology = ...``: its
capacities and OSPF weights; routing stays by hop count). Each trial picks a host pair (seeded),
starts the stream, takes the first link of its path down, measures the longest run of lost
replies, then restores the link and waits for it to be rediscovered. Needs root.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import random

from qnn.argtypes import nonnegative_int, positive_int, writable_output
from topologies.catalog import MININET_TOPOLOGIES

# Mininet networks the controller is told about (their capacities and OSPF weights); abilene's
# failover figures were measured without, and routing by hop count needs neither
TOLD_TO_THE_CONTROLLER = ("geant",)


def topology_choice(text: str) -> str:
    """A Mininet topology name (but ``graph``, which needs a file) or a topology file's path."""
    if text in MININET_TOPOLOGIES and text != "graph":
        return text
    if pathlib.Path(text).is_file():  # an existing file is a topology file (is_topology_file)
        return text
    names = ", ".join(name for name in MININET_TOPOLOGIES if name != "graph")
    raise argparse.ArgumentTypeError(f"wants one of {names} or a topology file, not {text!r}")


def run_trials(topology: str, trials: int, seed: int, rate_pps: int) -> dict:
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab, measure_failover
    from topologies.mininet_topos import GraphTopo, topos

    rng = random.Random(seed)
    topo = topos[topology]() if topology in topos else GraphTopo(topology)
    told = topology in TOLD_TO_THE_CONTROLLER or topology not in topos
    settings = {"topology": topology} if told else {}
    hosts = sorted(topo.hosts(), key=lambda name: int(name[1:]))
    results = []
    mininet.clean.cleanup()
    with MininetLab(topo, settings=settings) as lab:
        lab.wait_until_ready()
        lab.ping_all()
        for trial in range(1, trials + 1):
            while True:
                src, dst = rng.sample(hosts, 2)
                if len(lab.wait_for_path(src, dst)) >= 2:
                    break
            outcome = measure_failover(lab, src, dst, rate_pps=rate_pps, before_s=2.0,
                                       after_s=3.0)
            lab.set_link(*outcome.failed_link, up=True)
            row = {"trial": trial, "src": src, "dst": dst,
                   "failed_link": list(outcome.failed_link),
                   "path_before": outcome.path_before, "path_after": outcome.path_after,
                   "outage_ms": round(outcome.outage_s * 1000), "lost": outcome.stream.lost,
                   "sent": outcome.stream.sent}
            results.append(row)
            print(f"trial {trial}: {src}->{dst} link s{row['failed_link'][0]}-"
                  f"s{row['failed_link'][1]} down: outage {row['outage_ms']} ms "
                  f"({row['lost']}/{row['sent']} lost), {row['path_before']} -> "
                  f"{row['path_after']}", flush=True)
            lab.wait_for_all_links()
    mininet.clean.cleanup()
    under_1s = sum(r["outage_ms"] < 1000 for r in results)
    outages = sorted(r["outage_ms"] for r in results)
    return {"topology": topology, "trials": trials, "seed": seed, "rate_pps": rate_pps,
            "outage_ms": outages, "under_1s": under_1s, "results": results}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default="abilene", type=topology_choice,
                        help="abilene (default), geant, ring, diamond or a topology file's path")
    parser.add_argument("--trials", type=positive_int, default=5)
    parser.add_argument("--seed", type=nonnegative_int, default=1)
    parser.add_argument("--rate-pps", type=positive_int, default=100)
    parser.add_argument("--json", help="write the results here")


def run(args: argparse.Namespace) -> int:
    if args.json:
        writable_output(args.json, "json", (".json",))
    summary = run_trials(args.topology, args.trials, args.seed, args.rate_pps)
    print(f"outage under 1 s in {summary['under_1s']} of {summary['trials']} trials; "
          f"outages (ms): {summary['outage_ms']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=1)
    return 0
