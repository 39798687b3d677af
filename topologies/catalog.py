"""Link facts of the networks the controller can be told it runs on (`[qroute] topology`), and
what the Mininet topologies build from them.

Standard library at import time (Mininet-side code imports this under Debian's bare
``/usr/bin/python3``); a network other than Abilene is read through the topology readers, which
need numpy. Switch dpids follow `topologies/mininet_topos.py`: node i is dpid i + 1.

    python -m topologies.catalog link-facts geant|abilene|PATH

prints a network's link facts (capacities unscaled) as JSON, for a Python without numpy.
"""
from __future__ import annotations

import json
import os
import sys

from topologies.abilene import ABILENE_LINKS

# The emulated links carry the real capacities times this (Abilene's 10 Gbit/s become 10 Mbit/s):
# Open vSwitch's userspace datapath forwards a few hundred Mbit/s in total, and only ratios
# between links matter for routing.
MININET_CAPACITY_SCALE = 1e-3
# What Mininet's TCLink shapes (Mbit/s): above 1000 it ignores the limit and leaves the link
# unshaped (TCIntf.bwParamMax); below 0.1 a 1500-byte frame takes over 100 ms to send and ping's
# 1 s timeout under load no longer holds. Scaled bandwidths outside are clamped, and said so.
MININET_BW_RANGE_MBPS = (0.1, 1000.0)
# The names `mn --topo` and the lab tools know (topologies.mininet_topos.topos, which imports
# Mininet: this list lets a tool's --help name them without it). `graph` takes a file: graph,PATH.
MININET_TOPOLOGIES = ("abilene", "diamond", "geant", "graph", "ring", "ring-ovs-dpids")
# The networks `[qroute] topology` knows by name; anything else is a topology file's path.
NAMED_TOPOLOGIES = ("abilene", "geant")


def abilene_links(scale: float):
    """(src_dpid, dst_dpid, capacity bit/s x scale, OSPF weight) for each directed link."""
    return [(f.src + 1, f.dst + 1, f.capacity_kbps * 1e3 * scale, float(f.ospf_weight))
            for f in ABILENE_LINKS]


def open_network(name: str):
    """``(network, node_ids)``: the :class:`qnn.network.Network` of ``abilene``, ``geant`` (from
    the data directory) or a topology file, and the file's node id of each index (None for a
    named network, whose ids are its indices); DataFormatError for a malformed file,
    FileNotFoundError for a missing one."""
    if name == "abilene":
        from topologies.abilene import load_abilene

        return load_abilene(), None
    if name == "geant":
        from topologies.geant import load_geant

        return load_geant(), None
    if not os.path.isfile(name):
        raise FileNotFoundError(f"{name}: no such topology file (known names: "
                                f"{', '.join(NAMED_TOPOLOGIES)})")
    from topologies.files import read_topology

    topology_file = read_topology(name)
    return topology_file.network, topology_file.node_ids


def link_facts(name: str, scale: float):
    """(src_dpid, dst_dpid, capacity bit/s x scale, OSPF weight) for each directed link of
    ``abilene``, ``geant`` or the topology file at path ``name`` (node index i is dpid i + 1)."""
    if name == "abilene":
        return abilene_links(scale)
    network, _ = open_network(name)
    return [(int(u) + 1, int(v) + 1, float(capacity) * scale, float(weight))
            for (u, v), capacity, weight in zip(network.links, network.capacity, network.weight)]


def tunnel_paths(topology: str, tunnels_path: str) -> dict[tuple[int, int], list[tuple[int, ...]]]:
    """The tunnels file at ``tunnels_path`` (``src dst:a-b-c,...`` in the node ids of
    ``topology``: a topology file's own ids, a named network's indices) as
    ``{(src_dpid, dst_dpid): [dpid paths]}``; DataFormatError for a malformed file or a tunnel
    over a link the network lacks."""
    from topologies.geant import load_tunnels

    network, node_ids = open_network(topology)
    tunnels = load_tunnels(network, tunnels_path, node_ids=node_ids)
    return {(src + 1, dst + 1): [tuple(node + 1 for node in path) for path in paths]
            for (src, dst), paths in tunnels.items()}


def mininet_bandwidth(capacity_bps: float, scale: float = MININET_CAPACITY_SCALE) -> tuple[float, bool]:
    """TCLink's ``bw`` (Mbit/s) for a link of ``capacity_bps`` scaled by ``scale``, and whether
    it had to be clamped into :data:`MININET_BW_RANGE_MBPS`."""
    wanted = capacity_bps * scale / 1e6
    low, high = MININET_BW_RANGE_MBPS
    shaped = min(max(wanted, low), high)
    return shaped, shaped != wanted


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "link-facts":
        print("usage: python -m topologies.catalog link-facts abilene|geant|PATH", file=sys.stderr)
        return 2
    try:
        facts = link_facts(argv[1], 1.0)
    except (OSError, ValueError) as error:  # DataFormatError is a ValueError
        print(f"{argv[1]}: {error}" if argv[1] not in str(error) else str(error), file=sys.stderr)
        return 2
    json.dump(facts, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
