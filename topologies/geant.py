"""GEANT (22 nodes, 72 directed links) and its 3 given tunnels per ordered pair; the tunnels
reader serves any network (:func:`load_tunnels` with ``node_ids``).

The data has capacities but no routing weights; shortest-path routing uses inverse-capacity
weights (``reference_bps / capacity``, Cisco's default OSPF cost rule, 10 Gbit/s reference).
"""
from __future__ import annotations

import json
import math
import pathlib

from topologies.datadir import require_data
from topologies.errors import DataFormatError
from topologies.textfile import numbered_lines, read_text
from topologies.weights import inverse_capacity_weight



def _geant_dir(data_dir) -> pathlib.Path:
    return pathlib.Path(data_dir) / "geant" if data_dir is not None else require_data("geant")


def load_geant(data_dir=None, json_path=None):
    """GEANT as a :class:`qnn.network.Network` from ``GEANT.json`` (networkx node-link, bit/s)."""
    from qnn.network import Network

    path = pathlib.Path(json_path) if json_path else _geant_dir(data_dir) / "GEANT.json"
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno, f"invalid JSON: {err.msg}") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(key), list) for key in ("nodes", "links")):
        raise DataFormatError(path, None, "expected a networkx node-link object with 'nodes' and "
                                          "'links' lists")
    if not all(isinstance(n, dict) and "id" in n for n in doc["nodes"]):
        raise DataFormatError(path, None, "every node needs an 'id'")
    node_ids = [n["id"] for n in doc["nodes"]]
    if node_ids != list(range(len(node_ids))) or not all(type(i) is int for i in node_ids):
        raise DataFormatError(path, None, "nodes must have ids 0..N-1 in order")
    if not doc["links"]:
        raise DataFormatError(path, None, "no links")
    links, capacity = [], []
    for i, link in enumerate(doc["links"]):
        if not isinstance(link, dict):
            raise DataFormatError(path, None, f"link {i} is not an object")
        u, v, cap = link.get("source"), link.get("target"), link.get("capacity")
        known = range(len(node_ids))
        if type(u) is not int or type(v) is not int or u not in known or v not in known:
            raise DataFormatError(path, None, f"link {i} ({u}->{v}) has an unknown node")
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not math.isfinite(cap) or cap <= 0:
            raise DataFormatError(path, None, f"link {i} ({u}->{v}) has invalid capacity {cap!r}")
        links.append((u, v))
        capacity.append(float(cap))
    weight = [inverse_capacity_weight(c) for c in capacity]
    try:
        return Network("geant", node_ids, links, capacity, weight)
    except ValueError as err:  # a self-loop or a repeated link
        raise DataFormatError(path, None, str(err)) from None


def load_tunnels(network, path=None, data_dir=None,
                 node_ids=None) -> dict[tuple[int, int], list[tuple[int, ...]]]:
    """Parse a tunnels file (``src dst:a-b-c,a-d-c,...``, GEANT's ``tunnels.txt`` by default) into
    ``{(src, dst): [node paths]}`` in node indices.

    Without ``node_ids`` the file's ids are the indices ``0..N-1`` (as GEANT's). With
    ``node_ids`` (``node_ids[i]`` = the topology file's id of node i, see
    :mod:`topologies.files`) the file names nodes by those ids, written as ``str(id)``, and they
    map to indices by that list. Every tunnel must start at src, end at dst and use only links of
    ``network``.
    """
    path = pathlib.Path(path) if path else _geant_dir(data_dir) / "tunnels.txt"
    n = network.n_nodes
    if node_ids is None:
        def index_of(token: str, lineno: int) -> int:
            try:
                node = int(token)
            except ValueError:
                raise DataFormatError(path, lineno, "non-integer node id") from None
            if not 0 <= node < n:
                raise DataFormatError(path, lineno, f"unknown node {node} ({network.name} has {n} nodes)")
            return node

        def label(node: int) -> str:
            return str(node)
    else:
        by_text = {str(node_id): i for i, node_id in enumerate(node_ids)}

        def index_of(token: str, lineno: int) -> int:
            if token not in by_text:
                raise DataFormatError(path, lineno,
                                      f"unknown node {token!r}: not a node id of {network.name}")
            return by_text[token]

        def label(node: int) -> str:
            return str(node_ids[node])
    tunnels: dict[tuple[int, int], list[tuple[int, ...]]] = {}
    for lineno, line in numbered_lines(path):
        line = line.strip()
        if not line:
            continue
        pair, sep, rest = line.partition(":")
        ends = pair.split()
        if not sep or len(ends) != 2:
            raise DataFormatError(path, lineno, "expected 'src dst:a-b-c,a-d-c,...'")
        src, dst = (index_of(token.strip(), lineno) for token in ends)
        paths = [tuple(index_of(x.strip(), lineno) for x in p.strip().split("-"))
                 for p in rest.split(",") if p.strip()]
        s_name, d_name = label(src), label(dst)

        def spelled(p) -> str:
            return "-".join(label(x) for x in p)
        if not paths:
            raise DataFormatError(path, lineno, f"no tunnel given for {s_name}->{d_name}")
        if src == dst:
            raise DataFormatError(path, lineno, f"tunnels from node {s_name} to itself")
        if len(set(paths)) != len(paths):
            raise DataFormatError(path, lineno, f"the same tunnel is listed twice for {s_name}->{d_name}")
        for p in paths:
            if p[0] != src or p[-1] != dst:
                raise DataFormatError(path, lineno, f"tunnel {spelled(p)} does not join {s_name} to {d_name}")
            if len(set(p)) != len(p):
                raise DataFormatError(path, lineno, f"tunnel {spelled(p)} visits a node twice")
            for u, v in zip(p[:-1], p[1:]):
                if (u, v) not in network.link_index:
                    raise DataFormatError(path, lineno,
                                          f"tunnel {spelled(p)} uses missing link {label(u)}->{label(v)}")
        if (src, dst) in tunnels:
            raise DataFormatError(path, lineno, f"pair {s_name}->{d_name} listed twice")
        tunnels[(src, dst)] = paths
    if not tunnels:
        raise DataFormatError(path, None, "no tunnels in file")
    return tunnels
