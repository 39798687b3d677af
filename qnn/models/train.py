"""``qroute train``: fit the QNN router (or its MLP control) on real traffic matrices.

Predictive setting (default): the router decides from matrix t-1 (and the link loads its own
splits would cause on it, re-read each coordination round) and is scored on matrix t. The loss is
the log-sum-exp (beta) smooth maximum of link utilisation on matrix t divided by the LP optimum of
matrix t, averaged over a minibatch of matrices. Matrices are split in time order: the first
``1 - val_fraction`` of the (input, target) pairs train, the rest validate; validation uses the
hard MLU ratio and early stopping keeps the best epoch.

``--model dote|figret`` trains the topology-specific network-wide models of :mod:`qnn.models.dote`
instead, on the same time-ordered split with the same validation-chosen epoch and seed.

Exact commands for the shipped checkpoints are in ``qnn/checkpoints/README.md``.
"""
from __future__ import annotations

import argparse
import math
import pathlib
import shlex
import sys
import time

import numpy as np
import torch

from qnn.argtypes import (nonnegative_float, nonnegative_int, open_fraction, positive_float, positive_int,
                          writable_output)
from qnn.models.checkpoint import (HISTORY_REDUCERS, TARGET_LAG, build_router, model_config, save_checkpoint,
                                   topology_fingerprint)
from qnn.models.dataset import TOPOLOGIES, load_dataset, pairs, time_split
from qnn.models.dote import DEFAULT_HISTORY, FIGRET_ALPHA
from qnn.models.epochs import train_epoch
from qnn.models.router import (DEFAULT_FEATURES, PathTensors, Router, evaluate, hard_split, n_params,
                               smooth_mlu_ratio)


def build_model(kind: str, k: int, features, n_qubits: int | None, n_layers: int, n_rounds: int,
                entangler: str, update: str, seed: int, match_params: int | None = None,
                encoder: str = "linear", encoder_hidden: int = 8, feature_history: int = 1):
    """A new router to train: the architecture of :func:`model_config`, weights from ``seed``."""
    return build_router(model_config(kind, k, features, n_qubits, n_layers, n_rounds, entangler, update,
                                     match_params, encoder, encoder_hidden, feature_history), seed=seed)


def fit(router: Router, pt: PathTensors, tr, va, epochs: int = 60, lr: float = 0.05, batch: int = 16,
        beta: float = 50.0, patience: int = 10, seed: int = 0, progress: bool = True,
        log=None, max_seconds: float | None = None, clip: float | None = 1.0, single_path: bool = False,
        anneal: tuple[float, float] | None = None, eval_batch: int = 64, also=()):
    """Adam on the smooth MLU ratio; returns (best validation summary, history).

    ``eval_batch``: validation matrices per forward pass (no autograd; memory only).

    ``also``: further networks to train the same router on, ``(name, path tensors, tr, va)``
    each. Their training rows join the first network's in one seeded shuffle (a step's batch
    mixes networks, each network's share of it routed on its own paths), and the epoch is
    chosen by the mean over the networks of their validation means; the summary then holds
    those means averaged, and each network's own under ``"networks"`` (the first as "main").

    ``single_path``: train for one path per flow and validate the argmax. By default with a
    straight-through estimator (the loss sees the argmax one-hot split, gradients flow through
    the soft split); with ``anneal=(tau0, tau1)`` the loss sees the split sharpened by a softmax
    temperature that falls geometrically from tau0 to tau1 over the epochs, so that it nears one
    path per flow while its gradients stay informative."""
    from tqdm import tqdm

    if anneal and not single_path:
        raise ValueError("anneal sharpens towards one path per flow; it needs single_path")
    dev = pt.device
    parts = []  # (name, path tensors, first training row, (Xtr, Ytr, Otr), (Xva, Yva, Ova))
    first_row = 0
    for name, part_pt, part_tr, part_va in [("main", pt, tr, va), *also]:
        train_arrays = tuple(torch.as_tensor(a, dtype=torch.float32, device=dev) for a in part_tr)
        val_arrays = tuple(torch.as_tensor(a, dtype=torch.float32, device=dev) for a in part_va)
        parts.append((name, part_pt, first_row, train_arrays, val_arrays))
        first_row += train_arrays[0].shape[0]
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(router.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs), eta_min=lr * 0.05)
    best, best_state, bad, history = None, None, 0, []
    t0 = time.time()
    bar = tqdm(range(epochs), desc=f"train {router.core.kind}", disable=not progress, file=sys.stderr)
    longest = 0.0
    for ep in bar:
        epoch_start = time.time()
        temperature = anneal_temperature(anneal, ep, epochs)

        def batch_loss(idx, temperature=temperature):
            losses = []
            for _, part_pt, first, (inputs, targets, optima), _ in parts:
                rows = idx[(idx >= first) & (idx < first + inputs.shape[0])] - first
                if not len(rows):
                    continue
                split = router(part_pt, inputs[rows], temperature=temperature)
                if single_path and not anneal:
                    split = hard_split(split, part_pt.mask) + split - split.detach()
                losses.append(smooth_mlu_ratio(part_pt, targets[rows], split, optima[rows], beta))
            return torch.cat(losses)

        train_loss = train_epoch(router, opt, first_row, batch, gen, dev, batch_loss, clip)
        sched.step()
        by_network = {name: evaluate(router, part_pt, *val_arrays, single_path=single_path,
                                     batch=eval_batch).summary
                      for name, part_pt, _, _, val_arrays in parts}
        val = by_network["main"] if len(parts) == 1 else {
            **{key: float(np.mean([v[key] for v in by_network.values()]))
               for key in ("mean", "p90", "p99", "max")},
            "n": sum(v["n"] for v in by_network.values()), "networks": by_network}
        history.append({"epoch": ep + 1, "train_loss": train_loss, "val_mean": val["mean"],
                        "val_p90": val["p90"], "seconds": round(time.time() - t0, 1)})
        if len(parts) > 1:
            history[-1]["val_mean_by_network"] = {name: v["mean"] for name, v in by_network.items()}
        if best is None or val["mean"] < best["mean"] - 1e-5:
            best, bad = {**val, "epoch": ep + 1}, 0
            best_state = {k: v.detach().clone() for k, v in router.state_dict().items()}
        else:
            bad += 1
        bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{val['mean']:.4f}", best=f"{best['mean']:.4f}")
        if log:
            log(history[-1])
        longest = max(longest, time.time() - epoch_start)
        if bad >= patience or (max_seconds and time.time() - t0 + longest > max_seconds):
            break  # no epoch starts that would end past max_seconds, were it as long as the longest so far
    router.load_state_dict(best_state)
    return best, history


# A training step's autograd keeps every round's tensors for all flows of its matrices, a
# validation pass (no autograd) only the round under way: where 16 matrices (64 for validation)
# would hold more flows than these, the default batch holds fewer, so that memory stays within
# a few GB whatever the network.
STEP_FLOWS = 100_000
VALIDATION_FLOWS = 400_000
# where the batch is so cut (networks of over 6,250 demands, about 80 nodes), training ends by
# default within this long, so that with the candidate paths and LP optima before it a 150-node
# network trains within 20 minutes on 2 cores
LARGE_NETWORK_MINUTES = 15.0
# dote/figret: matrices per step, 1 as in DOTE's and FIGRET's code (on GEANT it validated at
# 1.0050 against 1.0065 with 8)
DOTE_BATCH = 1


def default_batch(n_demands: int, most: int, flows: int) -> int:
    """Matrices per step (or per validation pass): ``most``, or fewer to stay within ``flows``."""
    return max(1, min(most, flows // max(1, n_demands)))


def anneal_temperature(anneal: tuple[float, float] | None, epoch: int, epochs: int) -> float:
    """Softmax temperature of ``epoch`` (0-based): geometric from tau0 to tau1 (1 without anneal)."""
    if not anneal:
        return 1.0
    tau0, tau1 = anneal
    return tau0 * (tau1 / tau0) ** (epoch / max(1, epochs - 1))


def parse_anneal(text: str) -> tuple[float, float]:
    """``"TAU0,TAU1"`` -> (tau0, tau1): two positive temperatures."""
    try:
        tau0, tau1 = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants TAU0,TAU1 (two temperatures), got {text!r}") from None
    if not all(math.isfinite(tau) and tau > 0 for tau in (tau0, tau1)):
        raise argparse.ArgumentTypeError(f"temperatures must be positive and finite, got {text!r}")
    return tau0, tau1


def _anneal_option(text: str) -> str:
    parse_anneal(text)
    return text  # kept as typed, so that the sidecar's command reads as it was given


def _topology_option(text: str) -> str:
    """A network with real traffic, a topology file (checked for existence up front) or a
    topohub name (checked when it is loaded)."""
    from qnn.problems import is_topology_path

    if text not in TOPOLOGIES and is_topology_path(text) and not pathlib.Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such topology file")
    return text


def _also_networks(text: str) -> list[str]:
    """``NET[,NET...]``: networks with their own traffic (or topohub names, on seeded gravity
    traffic); a topology file needs its own --traffic, so it is not one of them."""
    from qnn.problems import is_topology_path

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("names no network")
    files = [name for name in names if is_topology_path(name)]
    if files:
        raise argparse.ArgumentTypeError(
            f"{', '.join(files)}: a topology file needs its own --traffic; name networks with traffic "
            f"({', '.join(TOPOLOGIES)}) or topohub ones")
    return names


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", type=_topology_option, required=True,
                   help=f"{', '.join(TOPOLOGIES)}, a topology file (node-link JSON, GraphML, GML, SNDlib; "
                        f"docs/topology-files.md) or a topohub name (sndlib/germany50, gabriel/150/0, ...)")
    p.add_argument("--traffic", help="traffic-matrix file, one flattened N x N matrix a line (default: "
                                     "abilene/tm-week1.txt, geant/tm-dev.hist; needed for a topology file)")
    p.add_argument("--tunnels", metavar="FILE",
                   help="candidate paths, 'src dst:a-b-c,...' a line in the topology's node ids "
                        "(default: k shortest by OSPF weight; GEANT: its tunnels)")
    p.add_argument("--n-synthetic", type=positive_int, default=None,
                   help="a topohub network without --traffic: this many seeded gravity matrices "
                        "(default 200)")
    p.add_argument("--traffic-seed", type=nonnegative_int, default=None,
                   help="their seed (default 1: the bench scores seed 0's, so training never sees them)")
    p.add_argument("--capacity-rule", choices=("uniform", "degree"), default="uniform",
                   help="a topology file's links without a capacity: 10 Gbit/s each (default) or by degree")
    p.add_argument("--data-dir", help="data directory (default $QROUTE_DATA_DIR or <repo>/../shared/data)")
    p.add_argument("--also-train-on", type=_also_networks, default=[], metavar="NET[,NET...]",
                   help="qnn/mlp: train the same router on these networks too (networks with real traffic "
                        "or topohub names, with their default traffic), mixed in every step; the epoch "
                        "is chosen on the mean of all networks' validation means")
    p.add_argument("--model", choices=("qnn", "mlp", "dote", "figret"), default="qnn",
                   help="qnn, its mlp control (per flow, any network with the same k), or dote / figret "
                        "(one network-wide MLP over the last --history matrices: this topology only)")
    p.add_argument("--alpha", type=nonnegative_float, default=None,
                   help=f"figret: weight of its robustness term (default {FIGRET_ALPHA:g}, as published; "
                        f"0 is dote)")
    p.add_argument("--k", type=positive_int, default=3, help="candidate paths per flow")
    p.add_argument("--qubits", type=positive_int, default=None, help="qubits (default k: one per path)")
    p.add_argument("--layers", type=positive_int, default=3)
    p.add_argument("--rounds", type=positive_int, default=4, help="coordination rounds")
    p.add_argument("--features", default=",".join(DEFAULT_FEATURES))
    p.add_argument("--entangler", choices=("crx", "cnot"), default="crx")
    p.add_argument("--update", choices=("residual", "replace"), default="residual")
    p.add_argument("--encoder", choices=("linear", "mlp"), default="linear",
                   help="qnn: how path features become rotation angles: a trainable scale and offset per "
                        "rotation (default), or a small classical MLP shared by all paths (hybrid)")
    p.add_argument("--encoder-hidden", type=positive_int, default=8,
                   help="--encoder mlp: its hidden units (default 8)")
    p.add_argument("--feature-history", type=positive_int, default=1, metavar="H",
                   help="history features (trend, volatility, peak_share in --features) read each "
                        "flow's last H matrices; the router routes the last one (default 1: none)")
    p.add_argument("--match-params", type=positive_int,
                   help="MLP: parameter count to match (default: the QNN's)")
    p.add_argument("--setting", choices=("predictive", "oracle"), default="predictive")
    p.add_argument("--history", type=positive_int, default=None,
                   help=f"predictive: decide on the last H matrices (default 1: the previous one; "
                        f"dote/figret: {DEFAULT_HISTORY})")
    p.add_argument("--history-reduce", choices=tuple(HISTORY_REDUCERS), default="mean",
                   help="with --history H > 1: decide on their mean (default) or on each flow's "
                        "peak among them")
    p.add_argument("--single-path", action="store_true",
                   help="train for one path per flow (straight-through argmax, or --anneal); "
                        "default: split ratios")
    p.add_argument("--anneal", type=_anneal_option, metavar="TAU0,TAU1",
                   help="with --single-path: train on the split sharpened by a softmax temperature "
                        "falling from TAU0 to TAU1 over the epochs, instead of the straight-through "
                        "estimator")
    p.add_argument("--val-fraction", type=open_fraction, default=0.25)
    p.add_argument("--epochs", type=positive_int, default=60)
    p.add_argument("--patience", type=positive_int, default=10)
    p.add_argument("--batch", type=positive_int, default=None,
                   help=f"traffic matrices per step (default 16, fewer where 16 matrices hold over "
                        f"{STEP_FLOWS:,} flows: memory)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="Adam's learning rate (default 0.05; dote/figret: 0.001, Adam's default, "
                        "as published)")
    p.add_argument("--clip", type=nonnegative_float, default=None,
                   help="gradient-norm clipping (0: off; default 1.0; dote/figret: off, as published)")
    p.add_argument("--beta", type=positive_float, default=50.0,
                   help="log-sum-exp sharpness of the smooth max")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:0, ...)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p.add_argument("--max-minutes", type=nonnegative_float, default=None,
                   help=f"end training within this long: no epoch starts that would end past it, were it "
                        f"as long as the longest so far (0: no limit; default none, "
                        f"{LARGE_NETWORK_MINUTES:g} where the default batch is cut)")
    p.add_argument("--out", required=True, help="checkpoint path (NAME.pt; NAME.json is written beside)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    topology_specific = args.model in ("dote", "figret")
    # defaults that differ by model, resolved here so that the sidecar's command states them
    if args.history is None:
        args.history = DEFAULT_HISTORY if topology_specific else 1
    if args.lr is None:
        args.lr = 1e-3 if topology_specific else 0.05
    if args.clip is None:
        args.clip = 0.0 if topology_specific else 1.0
    if topology_specific:
        if args.alpha is None:
            args.alpha = FIGRET_ALPHA if args.model == "figret" else 0.0
        if args.batch is None:
            args.batch = DOTE_BATCH
        per_flow = [option for option, given in (
            ("--also-train-on", bool(args.also_train_on)), ("--encoder", args.encoder != "linear"),
            ("--encoder-hidden", args.encoder_hidden != 8), ("--feature-history", args.feature_history > 1))
            if given]
        if per_flow:
            raise ValueError(f"{', '.join(per_flow)}: options of the per-flow routers (qnn, mlp); "
                             f"{args.model} is one network's model (its input is that network's pairs)")
        from qnn.models.dote import run_train

        return run_train(args)
    if args.alpha is not None:
        raise ValueError("--alpha weighs FIGRET's robustness term; it needs --model figret")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    feats = tuple(f.strip() for f in args.features.split(",") if f.strip())
    problems = []
    if not feats:
        problems.append("--features names no feature")
    if args.anneal and not args.single_path:
        problems.append("--anneal sharpens towards one path per flow; it needs --single-path")
    if args.match_params and args.model != "mlp":
        problems.append("--match-params sizes the MLP control; it needs --model mlp")
    if args.history > 1 and args.setting != "predictive":
        problems.append("--history is for the predictive setting (the oracle decides on the scored matrix)")
    if args.encoder != "linear" and args.model != "qnn":
        problems.append("--encoder chooses how the QNN's circuit reads its features; it needs --model qnn")
    if args.encoder_hidden != 8 and args.encoder != "mlp":
        problems.append("--encoder-hidden sizes the classical encoder; it needs --encoder mlp")
    repeated = sorted({name for name in args.also_train_on if args.also_train_on.count(name) > 1})
    if repeated or args.topology in args.also_train_on:
        problems.append(f"--also-train-on names {', '.join(repeated or [args.topology])} "
                        f"{'more than once' if repeated else 'which --topology trains on already'}")
    from qnn.models.router import HISTORY_FEATURES

    history_features = [f for f in feats if f in HISTORY_FEATURES]
    if history_features and args.feature_history < 2:
        problems.append(f"{', '.join(history_features)} need --feature-history H of at least 2")
    if args.feature_history > 1 and not history_features:
        problems.append(f"--feature-history needs a history feature in --features "
                        f"({', '.join(HISTORY_FEATURES)})")
    if args.feature_history > 1 and (args.history > 1 or args.setting != "predictive"):
        problems.append("--feature-history reads past matrices: predictive setting with --history 1")
    try:
        writable_output(args.out, "out", (".pt",))
    except ValueError as error:
        problems.append(str(error))
    if problems:
        raise ValueError("; ".join(problems))
    anneal = parse_anneal(args.anneal) if args.anneal else None
    from qnn.problems import is_topology_path

    gravity = args.topology not in TOPOLOGIES and not is_topology_path(args.topology) and not args.traffic
    if not gravity and (args.n_synthetic is not None or args.traffic_seed is not None):
        raise ValueError("--n-synthetic and --traffic-seed draw traffic for a topohub network given "
                         "without --traffic")
    if gravity:  # stated in the sidecar's command, defaults included
        args.n_synthetic = args.n_synthetic or 200
        args.traffic_seed = 1 if args.traffic_seed is None else args.traffic_seed
    synthetic = {"n_synthetic": args.n_synthetic or 200,
                 "traffic_seed": 1 if args.traffic_seed is None else args.traffic_seed}
    ds = load_dataset(args.topology, args.traffic, k=args.k, data_dir=args.data_dir, tunnels=args.tunnels,
                      capacity_rule=args.capacity_rule, **synthetic)
    if args.topology not in TOPOLOGIES and ds.topology_file is None:
        print(f"{args.topology}: {ds.network.n_nodes} nodes, {ds.network.n_links} directed links, "
              f"{ds.pathset.n_demands} demands; traffic: {ds.traffic_file}; paths: {ds.path_rule}")
    if ds.topology_file is not None:
        print(ds.topology_file.summary())
        print(f"  candidate paths: {ds.path_rule}")
    n_demands = ds.pathset.n_demands
    step_batch = default_batch(n_demands, 16, STEP_FLOWS)
    if args.batch is None:  # stated in the sidecar's command, as is the time limit below
        args.batch = step_batch
    if args.max_minutes is None and step_batch < 16:
        args.max_minutes = LARGE_NETWORK_MINUTES
        print(f"{n_demands:,} demands: training stops after {LARGE_NETWORK_MINUTES:g} minutes by default "
              f"(--max-minutes; 0: no limit); batch {args.batch}", file=sys.stderr)
    X, Y, optima = pairs(ds, args.setting, args.history, args.history_reduce, args.feature_history)
    i_tr, i_va = time_split(len(X), args.val_fraction)
    pt = PathTensors(ds.pathset, device=args.device)
    router = build_model(args.model, args.k, feats, args.qubits, args.layers, args.rounds,
                         args.entangler, args.update, args.seed, args.match_params, args.encoder,
                         args.encoder_hidden, args.feature_history).to(args.device)

    empty = np.flatnonzero(optima <= 0) + TARGET_LAG[args.setting]
    if len(empty):
        raise ValueError(f"{ds.traffic_file}: {len(empty)} matrix(es) to score carry no traffic "
                         f"(LP optimum 0, which every ratio divides by), e.g. matrix {empty[0]} "
                         f"(0-based); remove them")
    also, also_meta = [], []
    for name in args.also_train_on:
        other = load_dataset(name, None, k=args.k, data_dir=args.data_dir, capacity_rule=args.capacity_rule,
                             **synthetic)
        Xo, Yo, Oo = pairs(other, args.setting, args.history, args.history_reduce, args.feature_history)
        if np.any(Oo <= 0):
            raise ValueError(f"{other.traffic_file}: a matrix to score carries no traffic (LP optimum 0)")
        o_tr, o_va = time_split(len(Xo), args.val_fraction)
        also.append((name, PathTensors(other.pathset, device=args.device), (Xo[o_tr], Yo[o_tr], Oo[o_tr]),
                     (Xo[o_va], Yo[o_va], Oo[o_va])))
        also_meta.append({"topology": topology_fingerprint(other.network), "paths": other.path_rule,
                          "data_files": {pathlib.Path(f).name: h for f, h in other.files.items()},
                          "split": {"train_pairs": [int(o_tr[0]), int(o_tr[-1])],
                                    "val_pairs": [int(o_va[0]), int(o_va[-1])],
                                    "val_fraction": args.val_fraction}})
    best, history = fit(router, pt, (X[i_tr], Y[i_tr], optima[i_tr]), (X[i_va], Y[i_va], optima[i_va]),
                        epochs=args.epochs, lr=args.lr, batch=args.batch, beta=args.beta,
                        patience=args.patience, seed=args.seed, progress=not args.quiet, clip=args.clip,
                        single_path=args.single_path,
                        anneal=anneal, eval_batch=default_batch(n_demands, 64, VALIDATION_FLOWS),
                        max_seconds=args.max_minutes * 60 if args.max_minutes else None, also=also)
    if not math.isfinite(best["mean"]):
        raise ValueError(f"training diverged (validation MLU ratio {best['mean']}); no checkpoint written")
    meta = {
        "topology": topology_fingerprint(ds.network),
        "paths": ds.path_rule,
        "k": args.k,
        "n_params": n_params(router),
        "setting": args.setting,
        "history": args.history,
        "history_reduce": args.history_reduce,
        "single_path": bool(args.single_path),
        "data_files": {pathlib.Path(p).name: h for p, h in ds.files.items()},
        "split": {"train_pairs": [int(i_tr[0]), int(i_tr[-1])], "val_pairs": [int(i_va[0]), int(i_va[-1])],
                  "val_fraction": args.val_fraction},
        "training": {"epochs_run": len(history), "best_epoch": best["epoch"], "lr": args.lr,
                     "clip": args.clip, "batch": args.batch, "beta": args.beta, "patience": args.patience,
                     "single_path_estimator": (None if not args.single_path else
                                               f"anneal {anneal[0]:g}->{anneal[1]:g}" if anneal else
                                               "straight-through"),
                     "seconds": history[-1]["seconds"] if history else 0.0},
        "seed": args.seed,
        "validation": {k: v for k, v in best.items() if k not in ("epoch", "networks")},
        "command": "qroute train " + " ".join(shlex.quote(a) for a in _argv_for(args)),
        "torch": torch.__version__,
    }
    if also:
        meta["also_trained_on"] = also_meta
        meta["validation_by_network"] = {args.topology if name == "main" else name: summary
                                         for name, summary in best["networks"].items()}
    side = save_checkpoint(args.out, router, meta)
    print(f"saved {args.out} ({side['n_params']} parameters); validation MLU ratio mean "
          f"{best['mean']:.4f} p90 {best['p90']:.4f} (epoch {best['epoch']})")
    for name, summary in meta.get("validation_by_network", {}).items():
        print(f"  {name}: validation MLU ratio mean {summary['mean']:.4f} p90 {summary['p90']:.4f}")
    return 0


# options of the per-flow routers that a dote/figret run does not read
PER_FLOW_OPTIONS = {"qubits", "layers", "rounds", "features", "entangler", "update", "match_params",
                    "history_reduce", "beta", "encoder", "encoder_hidden", "feature_history", "also_train_on"}


def _argv_for(args, skip_also=()) -> list:
    """Reconstruct the options that matter for reproduction (no device/threads/quiet)."""
    skip = {"device", "threads", "quiet", "func", "command", "cmd", "handler", "data_dir", *skip_also}
    if getattr(args, "topology", None) in TOPOLOGIES:
        skip.add("capacity_rule")  # a named network has its capacities
    out = []
    for key, val in vars(args).items():
        if key in skip or val is None or callable(val) or val is False or val == []:
            continue
        if isinstance(val, list):
            val = ",".join(map(str, val))
        if val is True:
            out.append(f"--{key.replace('_', '-')}")
            continue
        out += [f"--{key.replace('_', '-')}", str(val)]
    return out

