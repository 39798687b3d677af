"""The Abilene backbone as facts, plus a parser for ``abilene/topology.tsv``.

Standard library only at import time: Mininet topologies import this under Debian's
``/usr/bin/python3``, which has no numpy or networkx. ``load_abilene()`` imports the
numpy-based :class:`qnn.network.Network` inside the function.

Node order follows the CFR-RL data (router names sorted alphabetically).
"""
from __future__ import annotations

import pathlib
from typing import NamedTuple

from topologies.errors import DataFormatError
from topologies.textfile import read_text


class AbileneNode(NamedTuple):
    index: int
    name: str
    city: str
    latitude: float   # the city's (degrees north), for drawing the network on a map
    longitude: float  # degrees east


class LinkFact(NamedTuple):
    index: int
    src: int
    dst: int
    ospf_weight: int
    capacity_kbps: int


ABILENE_NODES: tuple[AbileneNode, ...] = (
    AbileneNode(0, "ATLAM5", "Atlanta (M5)", 33.749, -84.388),
    AbileneNode(1, "ATLAng", "Atlanta", 33.749, -84.388),
    AbileneNode(2, "CHINng", "Chicago", 41.878, -87.63),
    AbileneNode(3, "DNVRng", "Denver", 39.739, -104.99),
    AbileneNode(4, "HSTNng", "Houston", 29.76, -95.37),
    AbileneNode(5, "IPLSng", "Indianapolis", 39.768, -86.158),
    AbileneNode(6, "KSCYng", "Kansas City", 39.1, -94.579),
    AbileneNode(7, "LOSAng", "Los Angeles", 34.052, -118.244),
    AbileneNode(8, "NYCMng", "New York", 40.713, -74.006),
    AbileneNode(9, "SNVAng", "Sunnyvale", 37.369, -122.036),
    AbileneNode(10, "STTLng", "Seattle", 47.606, -122.332),
    AbileneNode(11, "WASHng", "Washington", 38.907, -77.037),
)

# (index, source, destination, OSPF weight, capacity in kbit/s), as in abilene/topology.tsv.
ABILENE_LINKS: tuple[LinkFact, ...] = (
    LinkFact(0, 0, 1, 1, 9920000),
    LinkFact(1, 1, 0, 1, 9920000),
    LinkFact(2, 1, 4, 1176, 9920000),
    LinkFact(3, 1, 5, 587, 2480000),
    LinkFact(4, 1, 11, 846, 9920000),
    LinkFact(5, 2, 5, 260, 9920000),
    LinkFact(6, 2, 8, 700, 9920000),
    LinkFact(7, 3, 6, 639, 9920000),
    LinkFact(8, 3, 9, 1295, 9920000),
    LinkFact(9, 3, 10, 2095, 9920000),
    LinkFact(10, 4, 1, 1176, 9920000),
    LinkFact(11, 4, 6, 902, 9920000),
    LinkFact(12, 4, 7, 1893, 9920000),
    LinkFact(13, 5, 1, 587, 2480000),
    LinkFact(14, 5, 2, 260, 9920000),
    LinkFact(15, 5, 6, 548, 9920000),
    LinkFact(16, 6, 3, 639, 9920000),
    LinkFact(17, 6, 4, 902, 9920000),
    LinkFact(18, 6, 5, 548, 9920000),
    LinkFact(19, 7, 4, 1893, 9920000),
    LinkFact(20, 7, 9, 366, 9920000),
    LinkFact(21, 8, 2, 700, 9920000),
    LinkFact(22, 8, 11, 233, 9920000),
    LinkFact(23, 9, 3, 1295, 9920000),
    LinkFact(24, 9, 7, 366, 9920000),
    LinkFact(25, 9, 10, 861, 9920000),
    LinkFact(26, 10, 3, 2095, 9920000),
    LinkFact(27, 10, 9, 861, 9920000),
    LinkFact(28, 11, 1, 846, 9920000),
    LinkFact(29, 11, 8, 233, 9920000),
)

# One fixed factor applied to every matrix of tm-week1.txt (capacities in bit/s). The raw values
# are in the units of the original measurement; x8 puts the week's OSPF shortest-path MLU at
# mean 0.22, peak 0.96 (so no link is over capacity under OSPF). MLU ratios do not depend on it.
ABILENE_TM_SCALE = 8.0
ABILENE_TM = ("abilene", "tm-week1.txt")  # the week of real matrices, under the data directory


def read_topology_tsv(path: str | pathlib.Path) -> tuple[int, list[LinkFact]]:
    """Parse a CFR-RL style ``topology.tsv`` into its node count (the header's ``Node_num``:
    nodes without links still count) and its links; raises :class:`DataFormatError` naming
    file and line."""
    path = pathlib.Path(path)
    lines = read_text(path).splitlines()
    if not lines:
        raise DataFormatError(path, 1, "empty file, expected 'Node_num: N  Edge_num: E'")
    head = lines[0].replace(":", " ").split()
    try:
        if head[0] != "Node_num" or head[2] != "Edge_num":
            raise ValueError
        n_nodes, n_edges = int(head[1]), int(head[3])
    except (IndexError, ValueError):
        raise DataFormatError(path, 1, f"expected 'Node_num: N  Edge_num: E', got {lines[0]!r}") from None
    if n_nodes < 2 or n_edges < 1:
        raise DataFormatError(path, 1, f"need at least 2 nodes and 1 link, header says {n_nodes} "
                                       f"and {n_edges}")
    links: list[LinkFact] = []
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields or fields[0] == "Link_index":
            continue
        if len(fields) != 5:
            raise DataFormatError(path, lineno, f"expected 5 values (index src dst ospf capacity), "
                                                f"got {len(fields)}")
        try:
            index, src, dst, ospf, cap = (int(x) for x in fields)
        except ValueError:
            raise DataFormatError(path, lineno, f"non-integer value in {line!r}") from None
        for node in (src, dst):
            if not 0 <= node < n_nodes:
                raise DataFormatError(path, lineno, f"unknown node {node} (Node_num is {n_nodes})")
        if src == dst:
            raise DataFormatError(path, lineno, f"link from node {src} to itself")
        if any((f.src, f.dst) == (src, dst) for f in links):
            raise DataFormatError(path, lineno, f"link {src}->{dst} listed twice")
        if ospf <= 0 or cap <= 0:
            raise DataFormatError(path, lineno, "OSPF weight and capacity must be positive")
        if index != len(links):
            raise DataFormatError(path, lineno, f"link index {index} out of order (expected {len(links)})")
        links.append(LinkFact(index, src, dst, ospf, cap))
    if len(links) != n_edges:
        raise DataFormatError(path, len(lines), f"header says {n_edges} links, file has {len(links)}")
    return n_nodes, links


def load_abilene(tsv_path: str | pathlib.Path | None = None):
    """Abilene as a :class:`qnn.network.Network` (capacities in bit/s, OSPF weights).

    Built from the shipped facts unless ``tsv_path`` names a topology.tsv to parse instead.
    """
    from qnn.network import Network

    if tsv_path is None:
        n_nodes, facts = len(ABILENE_NODES), ABILENE_LINKS
    else:
        n_nodes, facts = read_topology_tsv(tsv_path)
    names = [n.name for n in ABILENE_NODES] if n_nodes == len(ABILENE_NODES) else []
    return Network(
        name="abilene",
        nodes=list(range(n_nodes)),
        links=[(f.src, f.dst) for f in facts],
        capacity=[f.capacity_kbps * 1000.0 for f in facts],
        weight=[f.ospf_weight for f in facts],
        node_names=names,
    )


def week_or_gravity(n_synthetic: int, seed: int):
    """``(matrices, source, real)``: the Abilene week (``abilene/tm-week1.txt`` from the data
    directory, times :data:`ABILENE_TM_SCALE`, shape (T, 12, 12) in bit/s), or, when the data
    directory is absent, ``n_synthetic`` seeded gravity-model matrices, so that what runs on the
    package alone (demo, live comparison) still has traffic."""
    from topologies.datadir import DataUnavailableError, require_data
    from topologies.traffic import gravity_traffic, load_traffic_matrices

    try:
        path = require_data(*ABILENE_TM)
    except DataUnavailableError:
        return (gravity_traffic(load_abilene(), n_matrices=n_synthetic, seed=seed),
                f"synthetic gravity traffic (seed {seed}, no data directory)", False)
    return load_traffic_matrices(path, len(ABILENE_NODES)) * ABILENE_TM_SCALE, str(path), True
