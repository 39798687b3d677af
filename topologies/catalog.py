"""Link facts of the networks the controller can be told it runs on (`[qroute] topology`).

Standard library only. Switch dpids follow `topologies/mininet_topos.py`: node i is dpid i + 1.
"""
from __future__ import annotations

from topologies.abilene import ABILENE_LINKS

# The emulated links carry the real capacities times this (Abilene's 10 Gbit/s become 10 Mbit/s):
# Open vSwitch's userspace datapath forwards a few hundred Mbit/s in total, and only ratios
# between links matter for routing.
MININET_CAPACITY_SCALE = 1e-3
# The names `mn --topo` and the lab tools know (topologies.mininet_topos.topos, which imports
# Mininet: this list lets a tool's --help name them without it).
MININET_TOPOLOGIES = ("abilene", "diamond", "ring")


def abilene_links(scale: float):
    """(src_dpid, dst_dpid, capacity bit/s x scale, OSPF weight) for each directed link."""
    return [(f.src + 1, f.dst + 1, f.capacity_kbps * 1e3 * scale, float(f.ospf_weight))
            for f in ABILENE_LINKS]


KNOWN_TOPOLOGIES = {"abilene": abilene_links}


def link_facts(name: str, scale: float):
    try:
        return KNOWN_TOPOLOGIES[name](scale)
    except KeyError:
        raise ValueError(f"unknown topology {name!r} (known: {', '.join(KNOWN_TOPOLOGIES)})") \
            from None
