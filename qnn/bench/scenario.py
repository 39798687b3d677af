"""Named topologies with their candidate paths and traffic: what ``qroute bench`` runs on."""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

from qnn.network import Network
from qnn.paths import PathSet
from qnn.problems import candidate_pathset, default_traffic_file, load_network


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
    """Network, candidate paths and traffic for ``abilene``, ``geant`` or a topohub name
    (:mod:`qnn.problems` says which network, paths and real matrices each name means).

    * abilene: its real matrices times :data:`topologies.abilene.ABILENE_TM_SCALE` unless
      ``scale`` is given;
    * geant: its real matrices, unscaled;
    * otherwise a topohub graph (see :mod:`topologies.zoo` for the capacity rule) and
      ``n_synthetic`` gravity matrices drawn with ``seed``.

    ``paths``: see :func:`qnn.problems.candidate_pathset`. ``tms_path`` replaces the default
    matrices (one flattened N x N matrix a line).
    """
    from topologies.abilene import ABILENE_TM_SCALE
    from topologies.traffic import gravity_traffic, load_traffic_matrices

    network = load_network(topology)
    pathset, _ = candidate_pathset(topology, network, k, paths)
    default_scale = ABILENE_TM_SCALE if topology.lower() == "abilene" else 1.0
    scale = default_scale if scale is None else scale
    traffic_file = pathlib.Path(tms_path) if tms_path is not None else default_traffic_file(topology)
    if traffic_file is not None:
        tms, source = load_traffic_matrices(traffic_file, network.n_nodes), str(traffic_file)
    else:
        tms = gravity_traffic(network, n_synthetic, seed=seed)
        source = f"gravity model, {n_synthetic} matrices, seed {seed}"
    scaled = tms * scale
    if not np.all(np.isfinite(scaled)):
        raise ValueError(f"{source}: demands times the scale {scale:g} overflow to infinity")
    return Scenario(network, pathset, scaled, source, scale, traffic_file)
