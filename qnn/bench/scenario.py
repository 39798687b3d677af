"""Named topologies with their candidate paths and traffic: what ``qroute bench`` runs on."""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

from qnn.network import Network
from qnn.paths import PathSet, from_tunnels, k_shortest_paths


@dataclass
class Scenario:
    network: Network
    pathset: PathSet
    tms: np.ndarray          # (T, N, N), already scaled
    traffic_source: str      # where the matrices came from (for reports)
    scale: float
    traffic_file: pathlib.Path | None = None   # None for synthetic traffic


def load_scenario(topology: str, tms_path=None, k: int = 3, paths: str = "weight", scale: float | None = None,
                  n_synthetic: int = 200, seed: int = 0) -> Scenario:
    """Network, candidate paths and traffic for ``abilene``, ``geant`` or a topohub name.

    * abilene: shipped facts, k shortest paths by OSPF weight, ``abilene/tm-week1.txt`` times
      :data:`topologies.abilene.ABILENE_TM_SCALE` unless ``scale`` is given;
    * geant: ``GEANT.json`` and its 3 given tunnels per pair, ``geant/tm-dev.hist`` unscaled;
    * otherwise a topohub graph (see :mod:`topologies.zoo` for the capacity rule), k shortest
      paths, and ``n_synthetic`` gravity matrices drawn with ``seed``.

    ``paths``: ``weight`` / ``hops`` (k shortest by that metric) or ``disjoint`` (edge-disjoint
    by weight); for GEANT ``tunnels`` (default there) or one of these.
    ``tms_path`` replaces the default matrices (one flattened N x N matrix a line).
    """
    from topologies.traffic import gravity_traffic, load_traffic_matrices

    name = topology.lower()
    if name == "abilene":
        from topologies.abilene import ABILENE_TM, ABILENE_TM_SCALE, load_abilene
        from topologies.datadir import require_data

        network = load_abilene()
        default_tms = lambda: require_data(*ABILENE_TM)  # noqa: E731
        default_scale = ABILENE_TM_SCALE
    elif name == "geant":
        from topologies.datadir import require_data
        from topologies.geant import load_geant

        network = load_geant()
        default_tms = lambda: require_data("geant", "tm-dev.hist")  # noqa: E731
        default_scale = 1.0
    else:
        from topologies.zoo import load_topohub

        network = load_topohub(topology)
        default_tms = None
        default_scale = 1.0
    if name == "geant" and paths in ("tunnels", "weight"):
        from topologies.geant import load_tunnels

        pathset = from_tunnels(network, load_tunnels(network))
        if pathset.k != k:
            raise ValueError(f"GEANT's tunnels give {pathset.k} paths per pair, not k={k} "
                             f"(for k shortest paths choose paths 'hops' or 'disjoint')")
    elif paths == "tunnels":
        raise ValueError(f"only geant has given tunnels, not {topology!r} (weight, hops, disjoint)")
    elif paths in ("weight", "hops", "disjoint"):
        pathset = k_shortest_paths(network, k, weight="hops" if paths == "hops" else "weight",
                                   disjoint=paths == "disjoint")
    else:
        raise ValueError(f"unknown path choice {paths!r} (weight, hops, disjoint, tunnels)")
    scale = default_scale if scale is None else scale
    traffic_file = None
    if tms_path is not None:
        traffic_file = pathlib.Path(tms_path)
    elif default_tms is not None:
        traffic_file = default_tms()
    if traffic_file is not None:
        tms, source = load_traffic_matrices(traffic_file, network.n_nodes), str(traffic_file)
    else:
        tms = gravity_traffic(network, n_synthetic, seed=seed)
        source = f"gravity model, {n_synthetic} matrices, seed {seed}"
    scaled = tms * scale
    if not np.all(np.isfinite(scaled)):
        raise ValueError(f"{source}: demands times the scale {scale:g} overflow to infinity")
    return Scenario(network, pathset, scaled, source, scale, traffic_file)
