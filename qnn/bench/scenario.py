"""Named topologies and topology files with their candidate paths and traffic: what ``qroute bench``
runs on."""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

from qnn.network import Network
from qnn.paths import PathSet
from qnn.problems import candidate_pathset, check_first_optimum, default_traffic_file, open_topology


@dataclass
class Scenario:
    network: Network
    pathset: PathSet
    tms: np.ndarray          # (T, N, N), already scaled
    traffic_source: str      # where the matrices came from (for reports)
    scale: float
    traffic_file: pathlib.Path | None = None   # None for synthetic traffic
    topology_file: object = None               # topologies.files.TopologyFile for a file
    path_rule: str = ""


def load_scenario(topology: str, tms_path=None, k: int = 3, paths: str = "weight", scale: float | None = None,
                  n_synthetic: int = 200, seed: int = 0, tunnels=None,
                  capacity_rule: str = "uniform") -> Scenario:
    """Network, candidate paths and traffic for ``abilene``, ``geant`` or a topohub name
    (:mod:`qnn.problems` says which network, paths and real matrices each name means).

    * abilene: its real matrices times :data:`topologies.abilene.ABILENE_TM_SCALE` unless
      ``scale`` is given;
    * geant: its real matrices, unscaled;
    * otherwise a topohub graph (see :mod:`topologies.zoo` for the capacity rule) and
      ``n_synthetic`` gravity matrices drawn with ``seed``.

    * a topology file (:mod:`topologies.files`; ``capacity_rule`` where it has no capacities):
      the matrices of ``tms_path`` (an ``.opt`` file beside them is checked on the first),
      else ``n_synthetic`` matrices drawn with ``seed`` from the gravity model -- shaped by the
      file's SNDlib demands where it has them (the volume as the gravity model's) -- unscaled.

    ``paths``, ``tunnels``: see :func:`qnn.problems.candidate_pathset`. ``tms_path`` replaces
    the default matrices (one flattened N x N matrix a line).
    """
    from topologies.abilene import ABILENE_TM_SCALE
    from topologies.traffic import gravity_traffic, load_traffic_matrices

    network, topology_file = open_topology(topology, capacity_rule=capacity_rule)
    node_ids = topology_file.node_ids if topology_file is not None else None
    pathset, path_rule = candidate_pathset(topology, network, k, paths, tunnels=tunnels, node_ids=node_ids)
    default_scale = ABILENE_TM_SCALE if topology.lower() == "abilene" else 1.0
    scale = default_scale if scale is None else scale
    if tms_path is not None:
        traffic_file = pathlib.Path(tms_path)
    else:
        traffic_file = None if topology_file is not None else default_traffic_file(topology)
    demands = topology_file.demands if topology_file is not None else None
    if traffic_file is not None:
        tms, source = load_traffic_matrices(traffic_file, network.n_nodes), str(traffic_file)
        if topology_file is not None:
            _check_given_traffic(pathset, tms, traffic_file)
    elif demands is not None and demands.any():
        tms = gravity_traffic(network, n_synthetic, seed=seed, base=demands)
        source = (f"the file's SNDlib demands shaping the gravity model, {n_synthetic} matrices, "
                  f"seed {seed}")
    else:
        tms = gravity_traffic(network, n_synthetic, seed=seed)
        source = f"gravity model, {n_synthetic} matrices, seed {seed}"
    scaled = tms * scale
    if not np.all(np.isfinite(scaled)):
        raise ValueError(f"{source}: demands times the scale {scale:g} overflow to infinity")
    return Scenario(network, pathset, scaled, source, scale, traffic_file, topology_file, path_rule)


def _check_given_traffic(pathset, tms: np.ndarray, traffic_file: pathlib.Path) -> None:
    """A user's matrices for a topology file: every demand on a candidate path, and the optima
    file beside them (if any) the LP optimum of the first matrix."""
    from topologies.traffic import load_values

    pathset.check_covers(tms, str(traffic_file))
    opt_file = traffic_file.with_suffix(".opt")
    if opt_file.exists():
        check_first_optimum(pathset, pathset.demand_vector(tms[:1]), load_values(opt_file, positive=True),
                            opt_file)
