"""The controller's learned routing policy: a trained router (QNN or MLP) picks every flow's path.

The controller hands over what it knows (see :mod:`qnn.policy`): the live switch graph with link
capacities and OSPF weights, the flows as (ingress switch, egress switch) pairs, the paths in
place, and each flow's measured rate. This module turns that into the router's input:

* the live graph becomes a :class:`qnn.network.Network` (switches renumbered 0..N-1), so failed
  links are simply absent and their flows' candidates avoid them;
* each switch pair gets the k shortest loop-free paths by OSPF weight (the rule the shipped
  Abilene checkpoints were trained with); they are cached until the topology changes;
* the pair's demand is the sum of its flows' measured rates. The router's features are ratios,
  so only relative rates matter; a flow not measured yet (or measured idle) counts with a floor
  of ``FLOOR_SHARE`` of the largest measured rate (1 bit/s when nothing is measured yet), so it is
  present but negligible.

The router returns split ratios; OpenFlow per-flow rules carry one path, so each pair takes its
largest share, except that a pair keeps its installed candidate while that one's share is
within ``keep_margin`` of the largest (fewer flows moved for no gain).

Parameters are shared across flows and the features do not depend on the topology, so a
checkpoint runs on any network with the same k; one trained on another topology is allowed
(a live network with a failed link is already "another topology") and the name of the one it
was trained on is reported in :attr:`LearnedPolicy.description`.
"""
from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import torch

from qnn.checkpoint import load_checkpoint
from qnn.network import Network
from qnn.paths import k_shortest_paths
from qnn.policy import Flow, SwitchPath
from qnn.router import PathTensors

FLOOR_SHARE = 1e-3  # unmeasured flows' rate, relative to the largest measured one


class LearnedPolicy:
    name = "learned"

    def __init__(self, checkpoint, keep_margin: float = 0.1, device: str = "cpu"):
        self.router, self.meta = load_checkpoint(checkpoint, device=device)
        self.router.eval()
        self.k = int(self.meta["model"]["k"])
        self.kind = self.meta["model"]["kind"]
        self.keep_margin = float(keep_margin)
        self.device = device
        self._paths_key = None
        self._paths = None
        trained_on = self.meta.get("topology", {}).get("name", "?")
        self.name = self.kind
        self.description = (f"{self.kind} router, k={self.k}, {self.meta.get('n_params', '?')} parameters, "
                            f"trained on {trained_on}")

    # -- candidate paths --------------------------------------------------------------------
    def _candidates(self, graph: nx.DiGraph, pairs: list[tuple[int, int]]):
        """(Network, PathSet, dpid list) for the live graph, cached while it is unchanged."""
        key = (tuple(sorted(graph.nodes)),
               tuple(sorted((a, b, float(e.get("capacity", 1.0)), float(e.get("ospf", 1.0)))
                            for a, b, e in graph.edges(data=True))),
               tuple(pairs))
        if key != self._paths_key:
            dpids = sorted(graph.nodes)
            index = {d: i for i, d in enumerate(dpids)}
            edges = sorted(graph.edges(data=True))
            network = Network(name="live", nodes=list(range(len(dpids))),
                              links=[(index[a], index[b]) for a, b, _ in edges],
                              capacity=[float(e.get("capacity", 1.0)) for _, _, e in edges],
                              weight=[float(e.get("ospf", 1.0)) for _, _, e in edges])
            pathset = k_shortest_paths(network, self.k, weight="weight",
                                       demands=[(index[s], index[t]) for s, t in pairs])
            self._paths = (network, pathset, dpids, PathTensors(pathset, device=self.device))
            self._paths_key = key
        return self._paths

    # -- the policy interface ---------------------------------------------------------------
    def decide(self, graph: nx.DiGraph, flows: Mapping[Flow, tuple[int, int]],
               current: Mapping[Flow, SwitchPath] | None = None,
               demands_bps: Mapping[Flow, float] | None = None) -> dict[Flow, SwitchPath]:
        current = current or {}
        demands_bps = demands_bps or {}
        decided: dict[Flow, SwitchPath] = {}
        by_pair: dict[tuple[int, int], list[Flow]] = {}
        for flow, (src, dst) in flows.items():
            if src not in graph or dst not in graph:
                continue
            if src == dst:
                decided[flow] = (src,)
            elif nx.has_path(graph, src, dst):  # a pair without any path would poison the loads

                by_pair.setdefault((src, dst), []).append(flow)
        if not by_pair or graph.number_of_edges() == 0:
            return decided
        pairs = sorted(by_pair)
        _, pathset, dpids, tensors = self._candidates(graph, pairs)
        measured = [float(demands_bps.get(f, 0.0)) for p in pairs for f in by_pair[p]]
        floor = FLOOR_SHARE * max(measured, default=0.0) or 1.0
        demand = np.array([sum(max(float(demands_bps.get(f, 0.0)), floor) for f in by_pair[p])
                           for p in pairs])
        with torch.no_grad():
            split = self.router(tensors, torch.as_tensor(demand[None], dtype=torch.float32,
                                                         device=self.device))[0].cpu().numpy()
        for row, pair in enumerate(pairs):
            candidates = [tuple(dpids[i] for i in path) for path in pathset.paths[row]]
            shares = split[row, :len(candidates)]
            best = int(np.argmax(shares))
            for flow in by_pair[pair]:
                installed = tuple(current.get(flow, ()))
                if installed in candidates and \
                        shares[candidates.index(installed)] >= shares[best] - self.keep_margin:
                    decided[flow] = installed
                else:
                    decided[flow] = candidates[best]
        return decided
