"""``qroute lab ha``: master failover live (controller.lab.ha_lab): etcd, two or three
controllers, a Mininet network whose switches connect to all of them; a 100 pps ping stream
while the master is killed (-9); the packets lost and the seconds until another controller is
master and has read every switch back. Needs root.

    sudo .venv/bin/qroute lab ha --controllers 3 --trials 3 --json ha.json
"""
from __future__ import annotations

import argparse
import json

from qnn.argtypes import at_least, positive_int, writable_output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default="abilene", choices=("abilene", "geant", "ring", "diamond"))
    parser.add_argument("--controllers", type=int, default=3, choices=(2, 3))
    parser.add_argument("--trials", type=positive_int, default=1)
    parser.add_argument("--leader-ttl", type=at_least(2), default=3,
                        help="seconds the master's etcd lease lasts (at least 2)")
    parser.add_argument("--rate-pps", type=positive_int, default=100)
    parser.add_argument("--json", help="write the figures here")


def run(args: argparse.Namespace) -> int:
    if args.json:
        writable_output(args.json, "json", (".json",))
    from controller.lab.ha_lab import run_failovers

    report = run_failovers(args.topology, args.controllers, args.trials, args.leader_ttl,
                           args.rate_pps)
    for number, trial in enumerate(report["trials"], start=1):
        takeover = "never" if trial["takeover_s"] is None else f"{trial['takeover_s']:.2f} s"
        print(f"failover {number}: killed {trial['killed']} (generation {trial['old_generation']}); "
              f"{trial['new_master']} master (generation {trial['new_generation']}) with every switch "
              f"read back after {takeover}; {trial['lost']} of {trial['transmitted']} packets lost "
              f"(longest gap {trial['longest_gap_ms']} ms)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1, default=str)
    return 0
