"""The REST topology view (``GET /qroute/v1/topology``): switches with their names and map
coordinates where the configured network gives them, the links with their measured load and
drained state, and the policy in use; what the dashboard draws.

Switch dpid i + 1 is node index i of the configured network (as everywhere in qroute).
"""
from __future__ import annotations

import os
from typing import NamedTuple

from controller.drain import cable


class NodeFacts(NamedTuple):
    label: str
    latitude: float | None
    longitude: float | None


def node_facts(topology: str) -> dict[int, NodeFacts]:
    """dpid -> the node's name and coordinates: Abilene's cities, a topology file's own ids
    and the coordinates it carries; none for a network without them (GEANT's data) or none
    configured. A file that cannot be read gives none: the settings checked it at start-up."""
    if not topology:
        return {}
    if topology == "abilene":
        from topologies.abilene import ABILENE_NODES

        return {node.index + 1: NodeFacts(node.name, node.latitude, node.longitude)
                for node in ABILENE_NODES}
    if topology == "geant" or not os.path.isfile(topology):
        return {}
    from topologies.files import read_topology

    try:
        parsed = read_topology(topology)
    except (OSError, ValueError):
        return {}
    return {index + 1: NodeFacts(str(node_id), *parsed.coordinates.get(index, (None, None)))
            for index, node_id in enumerate(parsed.node_ids)}


def network_name(topology: str) -> str:
    if not topology:
        return ""
    if topology in ("abilene", "geant"):
        return topology
    return os.path.splitext(os.path.basename(topology))[0]


def topology_view(topology: str, nodes: dict[int, NodeFacts], state, drained, mlu: float | None,
                  policy: dict, stats_interval: float) -> dict:
    """``state``: the controller's NetworkState; ``drained``: its DrainedLinks; ``policy``: the
    app's policy view."""
    carrying = drained.carrying(state.links, state.switches)  # drained, yet the only way left
    switches = []
    for dpid in sorted(state.switches):
        facts = nodes.get(dpid, NodeFacts(f"s{dpid}", None, None))
        switches.append({"dpid": dpid, "label": facts.label, "lat": facts.latitude,
                         "lon": facts.longitude})
    links = [{"src": src, "dst": dst, "capacity_bps": state.capacity((src, dst)),
              "load_bps": state.load_bps.get((src, dst), 0.0),
              "utilisation": state.utilisation((src, dst)),
              "drained": drained.is_drained((src, dst)),
              "carrying": cable((src, dst)) in carrying}
             for src, dst in sorted(state.links)]
    return {"name": network_name(topology), "switches": switches, "links": links, "mlu": mlu,
            "policy": policy["policy_name"], "policy_description": policy["policy"],
            "split": policy["split"], "checkpoint": policy["checkpoint"],
            "stats_interval": stats_interval}
