"""Planned MLU of the routings a live replay starts from, against the LP optimum.

For each matrix of a replay's plan (the pairs and rates ``qroute lab replay`` would send, on the
shaped network and candidate paths the controller uses) this prints, over the LP optimum of the
offered demand: OSPF (the plan's own figure), an equal split over the candidates,
the shipped split checkpoint on equal demand (what the controller installs before any traffic
is measured), the checkpoint on the offered demand, and the first matrix's decision kept for
every matrix (one good early decision kept for the whole replay). No randomness is involved.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python scripts/replay_cold_start.py
[--topology geant] [--matrices 300:4]``. The data is found by the usual rule
(``$QROUTE_DATA_DIR``, else ``../shared/data``).
"""
from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    from controller.lab import replay
    from qnn.loads import link_loads, mlu
    from qnn.models.loaded import LoadedRouter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", choices=("abilene", "geant"), default="geant")
    parser.add_argument("--matrices", type=replay.parse_matrix_range, default=(300, 4), metavar="START:COUNT")
    args = parser.parse_args()
    plan_args = argparse.Namespace(topology=args.topology, matrices=args.matrices, seed=0, overload=1.0,
                                   volume_share=0.8, streams=8, ceiling_mbps=replay.LINK_TRAFFIC_CEILING_MBPS)
    plan, pathsets = replay.build_plan(plan_args)
    router = LoadedRouter(f"qnn/checkpoints/qnn-{args.topology}.pt")

    def ratio(pathset, demand, split, optimum):
        return float(mlu(link_loads(pathset, demand, split)[0], pathset.network.capacity)) / optimum

    first_decision = None
    print("matrix  LP MLU  OSPF  equal split  QNN on equal demand  QNN on offered  first decision kept")
    for index, rates, pathset, optimum, ospf_mlu in zip(plan.matrix_indices, plan.rates, pathsets,
                                                        plan.lp_mlu, plan.ospf_mlu):
        demand = np.array([rates[pair] for pair in pathset.demands])
        pairs, k = len(demand), pathset.k
        prepared = router.path_tensors(pathset)
        on_equal = router.decide(prepared, np.full(pairs, demand.mean()))
        on_offered = router.decide(prepared, demand)
        if first_decision is None:
            first_decision = dict(zip(pathset.demands, on_offered))
        kept = np.array([first_decision.get(pair, own) for pair, own in zip(pathset.demands, on_offered)])
        print(f"{index:6d}  {optimum:6.3f}  {ospf_mlu / optimum:.3f}  "
              f"{ratio(pathset, demand, np.full((pairs, k), 1.0 / k), optimum):11.3f}  "
              f"{ratio(pathset, demand, on_equal, optimum):19.3f}  "
              f"{ratio(pathset, demand, on_offered, optimum):14.3f}  "
              f"{ratio(pathset, demand, kept, optimum):19.3f}")


if __name__ == "__main__":
    main()
