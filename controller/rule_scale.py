"""Rules and groups on the busiest switch: switch-pair tunnels against host-pair rules.

    qroute rules --topology abilene|geant --hosts-per-switch 1,4,16

prints a markdown table. For each number of hosts per switch it builds the network's
:class:`~controller.netstate.NetworkState` (its links, and that many synthetic hosts on every
switch), gives every switch pair its tunnels with equal weights (the pairs of the network's
tunnels file where the data directory has one, GEANT's; else the k=3 candidate paths by OSPF
weight) and counts what :meth:`InstalledTunnels.resolve` asks of each switch. The host-pair
design needs one rule per host pair on every switch of its shortest path (by OSPF weight).
Counts leave out the few base rules every switch has in both designs (ARP, table misses).
No switches, no root.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from controller.netstate import NetworkState
from qnn.argtypes import comma_list, positive_int
from qnn.tables import markdown_table
from controller.tunnels import InstalledTunnels, rule_counts
from topologies.catalog import link_facts, open_network, tunnel_paths
from topologies.datadir import data_dir

K_CANDIDATES = 3
HOST_PORT_BASE = 1000   # host k of a switch sits on port 1000 + k, above every link port


@dataclass(frozen=True)
class ScaleRow:
    hosts_per_switch: int
    tunnels: int
    flow_rules: int        # on the switch with the most tunnel-design flow rules
    groups: int            # on the switch with the most groups
    buckets: int           # on the switch with the most buckets
    host_pair_rules: int   # on the switch with the most host-pair rules


def network_state(topology: str, hosts_per_switch: int) -> NetworkState:
    """The network's switches and links (port numbers: each switch's neighbours in dpid order
    from 1), with `hosts_per_switch` hosts on every switch."""
    facts = link_facts(topology, 1.0)
    neighbours: dict[int, list[int]] = {}
    for src, dst, _, _ in facts:
        neighbours.setdefault(src, []).append(dst)
        neighbours.setdefault(dst, [])
    port = {(dpid, other): index + 1 for dpid, others in neighbours.items()
            for index, other in enumerate(sorted(set(others)))}
    state = NetworkState()
    state.apply_link_facts(facts)
    for src, dst, _, _ in facts:
        state.add_link(src, dst, port[(src, dst)], port.get((dst, src), HOST_PORT_BASE - 1))
    for dpid in sorted(neighbours):
        for k in range(hosts_per_switch):
            state.learn_host(f"02:{dpid >> 16 & 0xff:02x}:{dpid >> 8 & 0xff:02x}:{dpid & 0xff:02x}:"
                             f"{k >> 8 & 0xff:02x}:{k & 0xff:02x}", dpid, HOST_PORT_BASE + k)
    return state


def switch_tunnels(topology: str) -> dict[tuple[int, int], list[tuple[int, ...]]]:
    """Each switch pair's tunnels (dpid paths): the tunnels file's where there is one, else the
    k candidate paths."""
    tunnels_file = data_dir() / topology / "tunnels.txt"
    if topology in ("abilene", "geant") and tunnels_file.is_file():
        return tunnel_paths(topology, str(tunnels_file))
    from qnn.paths import all_pairs, candidate_paths

    network, _ = open_network(topology)
    demands = all_pairs(network)
    found = candidate_paths(network, K_CANDIDATES, "weight", demands=demands)
    return {(s + 1, t + 1): [tuple(node + 1 for node in path) for path in paths]
            for (s, t), paths in zip(demands, found)}


def host_pair_rules(state: NetworkState, hosts_per_switch: int) -> dict[int, int]:
    """Rules per switch of the host-pair design: each of the h x h host pairs of a switch pair
    has a rule on every switch of the pair's shortest path, each of the h x (h - 1) pairs of
    one switch a rule there."""
    graph = state.graph()
    paths = dict(nx.all_pairs_dijkstra_path(graph, weight="ospf"))
    h = hosts_per_switch
    rules = {dpid: h * (h - 1) for dpid in graph}
    for src, dst in state.switch_pairs():
        for dpid in paths[src][dst]:
            rules[dpid] += h * h
    return rules


def scale_row(topology: str, hosts_per_switch: int, tunnels, protect: bool = True) -> ScaleRow:
    """`protect`: with local protection (backup tunnels' rules and fast-failover groups), as the
    controller runs by default."""
    state = network_state(topology, hosts_per_switch)
    routed = set(state.switch_pairs())
    decided = {pair: tuple((path, 1.0 / len(paths)) for path in paths)
               for pair, paths in tunnels.items() if pair in routed}
    desired = InstalledTunnels(protect=protect).resolve(decided, state)
    counts = rule_counts(desired).values()
    return ScaleRow(hosts_per_switch, len(desired.labels),
                    max(c.flow_rules for c in counts), max(c.groups for c in counts),
                    max(c.buckets for c in counts),
                    max(host_pair_rules(state, hosts_per_switch).values()))


def markdown(topology: str, rows: Sequence[ScaleRow]) -> str:
    header = (f"{topology}: hosts per switch", "tunnels", "flow rules", "groups", "buckets",
              "host-pair rules", "host-pair / tunnel rules")
    cells = [(row.hosts_per_switch, row.tunnels, row.flow_rules, row.groups, row.buckets,
              row.host_pair_rules, f"{row.host_pair_rules / row.flow_rules:.1f}x") for row in rows]
    return markdown_table(header, cells, "r" * len(header), tight_rule=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topology", default="abilene", help="abilene, geant or a topology file")
    parser.add_argument("--hosts-per-switch", type=comma_list(positive_int), default=[1, 4, 16],
                        help="comma-separated host counts per switch (default 1,4,16)")
    parser.add_argument("--no-protection", action="store_true",
                        help="count without local protection (local_protection = false)")


def run(args: argparse.Namespace) -> int:
    """A missing data directory or a malformed file raises (the CLI prints one line, exit 2)."""
    tunnels = switch_tunnels(args.topology)
    rows = [scale_row(args.topology, count, tunnels, protect=not args.no_protection)
            for count in args.hosts_per_switch]
    print(markdown(args.topology, rows))
    print("\nBusiest switch of each design (the most flow rules, groups, buckets); qroute's "
          "base rules (ARP, table misses) left out of both.")
    return 0
