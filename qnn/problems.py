"""Named routing problems: the network a name means, its candidate-path rule and its real traffic.

One place for what ``qroute bench`` (:mod:`qnn.bench.scenario`) and training
(:mod:`qnn.models.dataset`) both load: ``abilene`` (shipped link facts, the week of real
matrices), ``geant`` (``GEANT.json``, its given tunnels, the ``tm-dev`` matrices) and, for the
bench only, any topohub graph (no real traffic).
"""
from __future__ import annotations

import pathlib

from qnn.network import Network
from qnn.paths import PathSet, from_tunnels, k_shortest_paths
from topologies.abilene import ABILENE_TM

# the real traffic matrices of each network that has them, under the data directory
DEFAULT_TRAFFIC = {"abilene": ABILENE_TM, "geant": ("geant", "tm-dev.hist")}
PATH_CHOICES = ("weight", "hops", "disjoint", "tunnels")


def load_network(topology: str, data_dir=None) -> Network:
    """``abilene``, ``geant`` (from ``data_dir``, else the data directory) or a topohub name."""
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
                      data_dir=None) -> tuple[PathSet, str]:
    """The candidate paths of ``network`` (loaded for ``topology``) and their rule, in words.

    ``paths``: ``weight`` / ``hops`` (the k shortest loop-free paths by that metric) or
    ``disjoint`` (edge-disjoint, by weight); GEANT's given tunnels for ``tunnels``, and for
    ``weight`` on GEANT (its default), which need k to be their number per pair."""
    if topology.lower() == "geant" and paths in ("tunnels", "weight"):
        from topologies.geant import load_tunnels

        pathset = from_tunnels(network, load_tunnels(network, data_dir=data_dir))
        if pathset.k != k:
            raise ValueError(f"GEANT's tunnels give {pathset.k} paths per pair, not k={k} "
                             f"(for k shortest paths choose paths 'hops' or 'disjoint')")
        return pathset, f"GEANT tunnels.txt ({k} per pair)"
    if paths == "tunnels":
        raise ValueError(f"only geant has given tunnels, not {topology!r} (weight, hops, disjoint)")
    if paths not in PATH_CHOICES:
        raise ValueError(f"unknown path choice {paths!r} (weight, hops, disjoint, tunnels)")
    pathset = k_shortest_paths(network, k, weight="hops" if paths == "hops" else "weight",
                               disjoint=paths == "disjoint")
    rule = {"weight": "shortest loop-free paths by OSPF weight", "hops": "shortest loop-free paths by hops",
            "disjoint": "edge-disjoint shortest paths by OSPF weight"}[paths]
    return pathset, f"k={k} {rule}"
