"""``qroute lab``: the tools that run qroute live in Mininet. They need root.

Each tool module imports Mininet only inside ``run``, so ``--help`` works anywhere and the root
check below comes before any Mininet import.
"""
from __future__ import annotations

import os

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("controller.lab.demo", "rerouting live: Abilene, a failed link, a heavy-traffic race"),
    "demo-live": ("controller.lab.demo_live", "the dashboard, Abilene or GEANT, traffic until Ctrl-C"),
    "failover": ("controller.lab.failover_bench", "outage of a ping stream when a link on its path fails"),
    "replay": ("controller.lab.replay", "consecutive real matrices live, per policy: measured MLU / LP"),
    "reliability": ("controller.lab.reliability", "faults and hostile input, each check with its pass rule"),
    "ha": ("controller.lab.ha_failover", "master failover: kill -9 of the master of 2-3 controllers"),
}


def precondition(args) -> None:
    """Refuse, before any network is built, unless running as root."""
    if os.geteuid() != 0:
        raise PermissionError("needs root (Mininet and Open vSwitch build the network); run it with sudo")
