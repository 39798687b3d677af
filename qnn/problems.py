"""Named routing problems: the network a name means, its candidate-path rule and its real traffic.

One place for what ``qroute bench`` (:mod:`qnn.bench.scenario`) and training
(:mod:`qnn.models.dataset`) both load: ``abilene`` (shipped link facts, the week of real
matrices), ``geant`` (``GEANT.json``, its given tunnels, the ``tm-dev`` matrices) and, for the
bench only, any topohub graph (no real traffic).
"""
from __future__ import annotations

import math
import pathlib

from qnn.network import Network
from qnn.paths import PathSet, from_tunnels, k_shortest_paths
from topologies.abilene import ABILENE_TM

# the real traffic matrices of each network that has them, under the data directory
DEFAULT_TRAFFIC = {"abilene": ABILENE_TM, "geant": ("geant", "tm-dev.hist")}
PATH_CHOICES = ("weight", "hops", "disjoint", "tunnels")


def is_topology_path(topology) -> bool:
    """``topology`` names a file rather than a network (:func:`topologies.files.is_topology_file`)."""
    from topologies.files import is_topology_file

    return str(topology).lower() not in DEFAULT_TRAFFIC and is_topology_file(topology)


def open_topology(topology, data_dir=None, capacity_rule: str = "uniform"):
    """(network, :class:`topologies.files.TopologyFile` or None): a topology file through
    :func:`topologies.files.read_topology`, a name through :func:`load_network`."""
    if is_topology_path(topology):
        from topologies.files import read_topology

        topology_file = read_topology(topology, capacity_rule=capacity_rule)
        return topology_file.network, topology_file
    return load_network(topology, data_dir=data_dir), None


def load_network(topology: str, data_dir=None) -> Network:
    """``abilene``, ``geant`` (from ``data_dir``, else the data directory), a topohub name, or a
    topology file (:func:`open_topology`)."""
    if is_topology_path(topology):
        return open_topology(topology)[0]
    name = topology.lower()
    if name == "abilene":
        from topologies.abilene import load_abilene

        return load_abilene()
    if name == "geant":
        from topologies.geant import load_geant

        return load_geant(data_dir=data_dir)
    from topologies.zoo import load_topohub

    return load_topohub(topology)


def default_traffic_file(topology: str, data_dir=None) -> pathlib.Path | None:
    """The real matrices of ``topology`` under ``data_dir`` (else under the data directory, which
    must hold them); None for a network without real traffic."""
    parts = DEFAULT_TRAFFIC.get(topology.lower())
    if parts is None:
        return None
    if data_dir:
        return pathlib.Path(data_dir).joinpath(*parts)
    from topologies.datadir import require_data

    return require_data(*parts)


def candidate_pathset(topology: str, network: Network, k: int, paths: str = "weight",
                      data_dir=None, tunnels=None, node_ids=None) -> tuple[PathSet, str]:
    """The candidate paths of ``network`` (loaded for ``topology``) and their rule, in words.

    ``tunnels`` (a tunnels file, ``src dst:a-b-c,...``; its ids are ``node_ids`` where given,
    as :func:`topologies.geant.load_tunnels` reads them) gives the paths, k of them per pair.
    Otherwise ``paths``: ``weight`` / ``hops`` (the k shortest loop-free paths by that metric) or
    ``disjoint`` (edge-disjoint, by weight); GEANT's given tunnels for ``tunnels``, and for
    ``weight`` on GEANT (its default), which need k to be their number per pair."""
    if tunnels is not None:
        from topologies.geant import load_tunnels

        if paths not in ("tunnels", "weight"):
            raise ValueError(f"a tunnels file gives the candidate paths; paths {paths!r} would choose "
                             f"k shortest paths instead (leave it out, or leave out the tunnels)")
        pathset = from_tunnels(network, load_tunnels(network, tunnels, node_ids=node_ids))
        if pathset.k != k:
            raise ValueError(f"{tunnels}: the tunnels give up to {pathset.k} paths per pair, not k={k} "
                             f"(set k to {pathset.k})")
        return pathset, f"tunnels from {pathlib.Path(tunnels).name} ({k} per pair)"
    if topology.lower() == "geant" and paths in ("tunnels", "weight"):
        from topologies.geant import load_tunnels

        pathset = from_tunnels(network, load_tunnels(network, data_dir=data_dir))
        if pathset.k != k:
            raise ValueError(f"GEANT's tunnels give {pathset.k} paths per pair, not k={k} "
                             f"(for k shortest paths choose paths 'hops' or 'disjoint')")
        return pathset, f"GEANT tunnels.txt ({k} per pair)"
    if paths == "tunnels":
        raise ValueError(f"only geant has given tunnels, not {topology!r} (weight, hops, disjoint; "
                         f"or give a tunnels file)")
    if paths not in PATH_CHOICES:
        raise ValueError(f"unknown path choice {paths!r} (weight, hops, disjoint, tunnels)")
    pathset = k_shortest_paths(network, k, weight="hops" if paths == "hops" else "weight",
                               disjoint=paths == "disjoint")
    rule = {"weight": "shortest loop-free paths by OSPF weight", "hops": "shortest loop-free paths by hops",
            "disjoint": "edge-disjoint shortest paths by OSPF weight"}[paths]
    return pathset, f"k={k} {rule}"


def check_first_optimum(pathset, demands, opt, opt_file: pathlib.Path) -> None:
    """An optima file (``.opt``, one a line) must be the path-LP optimum of its matrices
    (``demands`` ``(T, D)``): checked on the first one (one LP), since every loss and ratio
    divides by these values."""
    from qnn.lp import path_lp
    from topologies.errors import DataFormatError

    if len(opt) and len(demands):
        solved = path_lp(pathset, demands[0]).mlu
        if not math.isclose(solved, opt[0], rel_tol=1e-6):
            raise DataFormatError(opt_file, 1, f"{opt[0]:g} is not the path-LP optimum of the first "
                                               f"matrix over these tunnels ({solved:g})")
