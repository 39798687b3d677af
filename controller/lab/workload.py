"""The traffic of the live Mininet comparison (``controller.lab.live_compare``), chosen without root.

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

from dataclasses import dataclass, field

import numpy as np

from qnn.baselines import shortest_path_routing
from qnn.lp import path_lp, single_path_milp
from qnn.network import Network
from qnn.paths import k_shortest_paths
from qnn.tables import markdown_table
from topologies.abilene import load_abilene, week_or_gravity
from topologies.catalog import MININET_CAPACITY_SCALE



def first_unseen_matrix(checkpoint: str | None = None) -> int:
    """The first Abilene matrix the shipped checkpoints were not trained to score (from the
    sidecar's time split; default: the controller's ``qnn`` checkpoint)."""
    from qnn.models.checkpoint import (CheckpointError, read_sidecar, resolve, shipped_checkpoint,
                                       trained_target_rows)

    path = resolve(checkpoint or shipped_checkpoint("qnn", "abilene", single_path=True))
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


def build_workload(n_flows: int, overload: float, seed: int,
                   capacity_scale: float = MININET_CAPACITY_SCALE) -> Workload:
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


@dataclass
class PolicyRun:
    policy: str
    offered_mbps: float = 0.0    # of the flows with a receiver report
    delivered_mbps: float = 0.0
    loss_percent: list[float] = field(default_factory=list)
    max_utilisation: float = float("nan")
    flows_moved: int = 0
    failed_flows: int = 0            # flows without a receiver report
    unreported_mbps: float = 0.0     # their offered rate
    decision_failures: int = 0       # learned decisions that raised (shortest-path fallback)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        loss = np.array(self.loss_percent)
        return {"policy": self.policy, "offered_mbps": round(self.offered_mbps, 2),
                "delivered_mbps": round(self.delivered_mbps, 2),
                "delivered_share": (round(self.delivered_mbps / self.offered_mbps, 4)
                                    if self.offered_mbps else None),
                "delivered_share_unreported_as_lost": round(
                    self.delivered_mbps / (self.offered_mbps + self.unreported_mbps), 4)
                if self.offered_mbps + self.unreported_mbps else None,
                "loss_percent_mean": round(float(loss.mean()), 2) if loss.size else None,
                "loss_percent_worst": round(float(loss.max()), 2) if loss.size else None,
                "max_link_utilisation": (round(self.max_utilisation, 3)
                                         if np.isfinite(self.max_utilisation) else None),
                "flows_moved": self.flows_moved, "failed_flows": self.failed_flows,
                "decision_failures": self.decision_failures, "errors": self.errors}


def format_table(workload: Workload, runs: list[PolicyRun]) -> str:
    """One row per policy: the mean over its trials, with the range when there are several."""
    lines = [f"Traffic: {len(workload.flows)} largest demands of {workload.source}, "
             f"{sum(f[2] for f in workload.flows):.1f} Mbit/s offered; OSPF shortest paths would load "
             f"their busiest link to {workload.ospf_mlu:.2f}x capacity, the best single path per flow "
             f"(MILP) to {workload.single_path_mlu:.2f}x, the split-routing LP to {workload.lp_mlu:.2f}x."]
    by_policy: dict[str, list[dict]] = {}
    for run in runs:
        by_policy.setdefault(run.policy, []).append(run.summary())

    def cell(summaries, key, pattern, scale=1.0):
        values = [s[key] * scale for s in summaries if s[key] is not None]
        if not values:
            return "–"
        text = pattern.format(float(np.mean(values)))
        if len(values) > 1:
            text += f" ({pattern.format(min(values))}–{pattern.format(max(values))})"
        return text

    header = ("policy", "trials", "delivered %", "mean flow loss %", "worst flow loss %",
              "max link utilisation (steady)", "flows moved", "flows without report", "failed decisions")
    columns = (("delivered_share", "{:.1f}", 100), ("loss_percent_mean", "{:.1f}", 1.0),
               ("loss_percent_worst", "{:.1f}", 1.0), ("max_link_utilisation", "{:.3f}", 1.0),
               ("flows_moved", "{:.0f}", 1.0), ("failed_flows", "{:.1f}", 1.0),
               ("decision_failures", "{:.0f}", 1.0))
    rows = [[policy, len(summaries),
             *(cell(summaries, key, pattern, factor) for key, pattern, factor in columns)]
            for policy, summaries in by_policy.items()]
    return "\n".join([*lines, "", markdown_table(header, rows, "l" + "r" * (len(header) - 1))])
