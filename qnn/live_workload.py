"""The traffic of the live Mininet comparison (``controller.live_compare``), chosen without root.

The ``n_flows`` largest demands of one Abilene matrix, as rates for the Mininet links (Abilene's
capacities times ``capacity_scale``), scaled so that OSPF shortest paths load their busiest link
to ``overload`` times its capacity. The matrix is the busiest of the week's validation part (no
shipped checkpoint was trained to predict it), or a seeded gravity-model matrix when the data
directory is absent. Two bounds on the same flows and k=3 OSPF candidate paths say what a
perfect router could reach: the path-LP optimum (split routing) and the single-path MILP
optimum (one path per flow, what per-flow OpenFlow rules install); below 1.0 nothing need be
lost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qnn.baselines import shortest_path_routing
from qnn.lp import path_lp, single_path_milp
from qnn.network import Network
from qnn.paths import k_shortest_paths
from topologies.abilene import load_abilene, week_or_gravity



def first_unseen_matrix(checkpoint: str | None = None) -> int:
    """The first Abilene matrix the shipped checkpoints were not trained to score (from the
    sidecar's time split; default: the controller's ``qnn`` checkpoint)."""
    from qnn.checkpoint import CheckpointError, read_sidecar, resolve, shipped_name, trained_target_rows

    path = resolve(checkpoint or shipped_name("qnn", "abilene", "single"))
    rows = trained_target_rows(read_sidecar(path))
    if not rows:  # without it every matrix would count as unseen, training ones included
        raise CheckpointError(path, "sidecar records no training split (split.train_pairs)")
    return rows.stop


@dataclass
class Workload:
    source: str
    flows: list[tuple[int, int, float]]  # (src node, dst node, Mbit/s)
    ospf_mlu: float                      # planned, from the rates and the shaped capacities
    lp_mlu: float                        # path-LP optimum of the same flows, k=3 OSPF paths
    single_path_mlu: float               # single-path MILP optimum (or best found in 10 s)


def build_workload(n_flows: int, overload: float, seed: int, capacity_scale: float = 1e-3) -> Workload:
    network = load_abilene()
    matrices, source, real = week_or_gravity(n_synthetic=1, seed=seed)
    if real:
        start = first_unseen_matrix()
        index = start + int(np.argmax(matrices[start:].sum(axis=(1, 2))))
        tm, source = matrices[index], f"{source} matrix {index} (busiest of the validation part)"
    else:
        tm = matrices[0]
    demands = tm.copy()
    np.fill_diagonal(demands, 0.0)
    if n_flows > np.count_nonzero(demands):
        raise ValueError(f"{source} has only {np.count_nonzero(demands)} non-zero demands, "
                         f"not the {n_flows} flows asked for")
    order = np.argsort(demands, axis=None)[::-1][:n_flows]
    pairs = [tuple(int(x) for x in np.unravel_index(i, tm.shape)) for i in order]
    volume = np.array([tm[p] for p in pairs])
    capacity = network.capacity * capacity_scale  # what the emulated links are shaped to, bit/s
    routing = shortest_path_routing(network, pairs)
    ospf_util = routing.loads(volume)[0] / capacity
    rate = volume * overload / ospf_util.max()  # bit/s: OSPF's busiest link at `overload`
    shaped = Network(name="abilene-mininet", nodes=network.nodes, links=network.links,
                     capacity=capacity, weight=network.weight)
    candidates = k_shortest_paths(shaped, 3, weight="weight", demands=pairs)
    lp = path_lp(candidates, rate).mlu
    single = single_path_milp(candidates, rate, time_limit=10.0).mlu
    return Workload(source, [(s, d, float(r / 1e6)) for (s, d), r in zip(pairs, rate)], float(overload),
                    float(lp), float(single))
