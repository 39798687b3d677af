"""Train a router on a topohub network with seeded gravity traffic, timing each stage.

``qroute train --topology`` takes abilene and geant only; this runs the steps it runs (k=3
shortest paths by weight, per-matrix path-LP optima, predictive pairs, time split, ``fit`` with
its defaults) on any topohub graph, so that BENCHMARKS can compare a transferred checkpoint with
one trained on the network and say how long training a 150-node network takes. The traffic seed
should differ from the bench's (0) so that the bench scores matrices the model never saw.

    PYTHONPATH=. .venv/bin/python scripts/train_topohub.py sndlib/germany50 --traffic-seed 1 \
        --model mlp --out /tmp/mlp-germany50.pt
"""
import argparse
import time

import numpy as np
import torch

from qnn.lp import path_lp
from qnn.models.checkpoint import save_checkpoint, topology_fingerprint
from qnn.models.dataset import Dataset, pairs, time_split
from qnn.models.router import DEFAULT_FEATURES, PathTensors, n_params
from qnn.models.train import build_model, fit
from qnn.paths import k_shortest_paths
from topologies.traffic import gravity_traffic
from topologies.zoo import load_topohub


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("topology", help="a topohub name (sndlib/germany50, gabriel/150/0, ...)")
    p.add_argument("--matrices", type=int, default=200, help="gravity matrices (the bench's default)")
    p.add_argument("--traffic-seed", type=int, default=1)
    p.add_argument("--model", choices=("qnn", "mlp"), default="qnn")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--out", help="checkpoint to write (NAME.pt and NAME.json)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    net = load_topohub(args.topology)
    ps = k_shortest_paths(net, 3)
    print(f"{args.topology}: {net.n_nodes} nodes, {net.n_links} links, {ps.n_demands} demands; "
          f"candidate paths {time.time() - start:.1f} s", flush=True)
    demands = ps.demand_vector(gravity_traffic(net, args.matrices, seed=args.traffic_seed))
    lp_start = time.time()
    optima = np.array([path_lp(ps, d).mlu for d in demands])
    lp_s = time.time() - lp_start
    print(f"LP optima of {args.matrices} matrices: {lp_s:.1f} s ({lp_s / args.matrices:.2f} s each)",
          flush=True)
    inputs, targets, target_optima = pairs(Dataset(net, ps, demands, optima), "predictive")
    i_tr, i_va = time_split(len(inputs), 0.25)
    router = build_model(args.model, 3, DEFAULT_FEATURES, None, 3, 4, "crx", "residual", 0)
    fit_start = time.time()
    train, validation = ([a[i] for a in (inputs, targets, target_optima)] for i in (i_tr, i_va))
    best, history = fit(router, PathTensors(ps), train, validation,
                        epochs=args.epochs, patience=args.patience, progress=False,
                        max_seconds=args.max_minutes * 60 if args.max_minutes else None,
                        log=lambda h: print(h, flush=True))
    fit_s = time.time() - fit_start
    print(f"fit: {len(history)} epochs in {fit_s:.1f} s ({fit_s / len(history):.1f} s per epoch, "
          f"{len(i_tr)} training pairs, {len(i_va)} validation pairs); best validation mean "
          f"{best['mean']:.4f} (epoch {best['epoch']}); total {time.time() - start:.1f} s", flush=True)
    if args.out:
        meta = {"topology": topology_fingerprint(net), "paths": "k=3 shortest loop-free paths by OSPF weight",
                "k": 3, "n_params": n_params(router), "setting": "predictive", "history": 1,
                "history_reduce": "mean", "single_path": False, "data_files": {},
                "split": {"train_pairs": [int(i_tr[0]), int(i_tr[-1])],
                          "val_pairs": [int(i_va[0]), int(i_va[-1])]},
                "seed": 0, "validation": {k: v for k, v in best.items() if k != "epoch"},
                "command": f"scripts/train_topohub.py {args.topology} --matrices {args.matrices} "
                           f"--traffic-seed {args.traffic_seed} --model {args.model} --epochs {args.epochs} "
                           f"--patience {args.patience}"}
        save_checkpoint(args.out, router, meta)
        print(f"saved {args.out}", flush=True)


if __name__ == "__main__":
    main()
