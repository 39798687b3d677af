"""DOTE (NSDI'23) and FIGRET (SIGCOMM'24): one network-wide MLP from the last H demand matrices
straight to split ratios over every pair's candidate paths, trained end to end on the realised
MLU of the next matrix.

As published: the input is the last H demand vectors of all pairs, flattened (oldest first);
hidden layers 128 wide with ReLU (DOTE: four, FIGRET's default: one plus three); one sigmoid
output per (pair, path), normalised per pair into split ratios. DOTE's loss is the MLU of the
next matrix divided by its LP optimum (a hard max over links: its gradient flows through the
busiest link). FIGRET adds ``alpha`` times its robustness term: per pair, the largest split ratio
(a pair's exposure to its own burst) weighted by the standard deviation of that pair's training
demand, averaged over pairs and divided by its own (detached) value so that both terms are of
one scale, as FIGRET's code does; ``alpha = 0`` is DOTE's loss exactly.

Input scaling: DOTE and FIGRET divide demands by a fixed unit (bit/s to Gbit/s) so that the
inputs are of order one. Here each decision's input is divided by its own mean demand instead:
the same order-one inputs whatever the units of a network's matrices, and a decision that does
not change when every demand is scaled (the bench scales Abilene's matrices), as the
MLU-optimal split does not.

Unlike the per-flow QNN and MLP routers these models are topology-specific: their input and
output sizes are the network's pair count, so a checkpoint routes only the network (and pair
order and k) it was trained on, and :func:`load_dote_checkpoint` refuses any other.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import pathlib
import shlex
import sys
import time

import numpy as np
import torch
from torch import nn

from qnn.errors import CheckpointError
from qnn.models.epochs import train_epoch
from qnn.models.dataset import history_windows, recent_window
from qnn.models.checkpoint import (read_sidecar_json, resolve, topology_fingerprint, verified_weights,
                                   write_weights)
from qnn.models.router import PathTensors, n_params

FORMAT = "qroute-dote-checkpoint/1"
KINDS = ("dote", "figret")
DEFAULT_HISTORY = 12
HIDDEN = 128
# hidden layers of 128 as published: DOTE's dote.py has four, FIGRET's default (--num_layer 3) 1 + 3
HIDDEN_LAYERS = {"dote": 4, "figret": 4}
FIGRET_ALPHA = 0.03  # FIGRET's default (figret_helper.py)
SPLIT_EPS = 1e-16  # as DOTE: keeps a pair whose sigmoids all underflow splittable


class DoteNet(nn.Module):
    """Last ``history`` demand vectors (T, history, D) -> split ratios (T, D, k)."""

    def __init__(self, n_pairs: int, k: int, history: int = DEFAULT_HISTORY, hidden: int = HIDDEN,
                 n_hidden: int = 4, kind: str = "dote", seed: int | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        self.kind, self.n_pairs, self.k, self.history = kind, n_pairs, k, history
        self.hidden, self.n_hidden = hidden, n_hidden
        gen_state = torch.random.get_rng_state()
        if seed is not None:
            torch.manual_seed(seed)
        layers, width = [], history * n_pairs
        for _ in range(n_hidden):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers += [nn.Linear(width, n_pairs * k), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        if seed is not None:
            torch.random.set_rng_state(gen_state)

    def forward(self, recent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        T = recent.shape[0]
        x = recent.reshape(T, -1)
        x = x / x.mean(-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
        weights = self.net(x).reshape(T, self.n_pairs, self.k)
        return per_pair_split(weights, mask)

    def config(self) -> dict:
        return {"kind": self.kind, "n_pairs": self.n_pairs, "k": self.k, "history": self.history,
                "hidden": self.hidden, "n_hidden": self.n_hidden, "activation": "relu",
                "output": "sigmoid, normalised per pair", "input": "last H demand vectors / their mean"}


def per_pair_split(weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Nonnegative weights (T, D, k) -> split ratios over each pair's real paths (``mask``)."""
    w = (weights + SPLIT_EPS) * mask.to(weights.dtype)
    return w / w.sum(-1, keepdim=True)


def realised_mlu(pt: PathTensors, demand: torch.Tensor, split: torch.Tensor) -> torch.Tensor:
    """Max over links of load / capacity (T,) for demand (T, D) routed by split (T, D, k)."""
    return pt.utilisation(demand, split).amax(-1)


def dote_loss(pt: PathTensors, demand, split, opt) -> torch.Tensor:
    """DOTE's loss per matrix (T,): realised MLU / LP optimum."""
    return realised_mlu(pt, demand, split) / opt


def robustness_term(split: torch.Tensor, pair_std: torch.Tensor) -> torch.Tensor:
    """FIGRET's term per matrix (T,): mean over pairs of (largest split ratio x demand std)."""
    return (split.amax(-1) * pair_std).mean(-1)


def figret_loss(pt: PathTensors, demand, split, opt, pair_std, alpha: float) -> torch.Tensor:
    """DOTE's loss plus ``alpha`` x the robustness term over its own detached value (T,)."""
    loss = dote_loss(pt, demand, split, opt)
    if alpha:
        term = robustness_term(split, pair_std)
        loss = loss + alpha * term / term.detach().clamp_min(torch.finfo(term.dtype).tiny)
    return loss


def pair_std(train_demands: np.ndarray) -> np.ndarray:
    """Per pair standard deviation of the training demands, in units of their mean demand."""
    d = np.asarray(train_demands, dtype=float)
    return d.std(axis=0) / max(float(d.mean()), np.finfo(float).tiny)


@torch.no_grad()
def evaluate_dote(model: DoteNet, pt: PathTensors, windows, targets, opt, batch: int = 64) -> np.ndarray:
    """MLU ratios (T,) on ``targets`` when deciding on ``windows``."""
    model.eval()
    out = []
    for a in range(0, windows.shape[0], batch):
        split = model(windows[a:a + batch], pt.mask)
        out.append(dote_loss(pt, targets[a:a + batch], split, opt[a:a + batch]).cpu())
    return torch.cat(out).numpy().astype(float)


def fit_dote(model: DoteNet, pt: PathTensors, train, val, pair_std_vec=None, alpha: float = 0.0,
             epochs: int = 60, lr: float = 1e-3, batch: int = 1, patience: int = 10, seed: int = 0,
             clip: float | None = None, progress: bool = False, max_seconds: float | None = None):
    """Adam on the DOTE / FIGRET loss; keeps the epoch with the best validation mean MLU ratio.
    ``train``/``val``: (windows (T, H, D), targets (T, D), optima (T,)). Returns (best, history)."""
    from qnn.summary import ratio_summary

    dev = pt.device
    Wtr, Ytr, Otr = (torch.as_tensor(a, dtype=torch.float32, device=dev) for a in train)
    Wva, Yva, Ova = (torch.as_tensor(a, dtype=torch.float32, device=dev) for a in val)
    std = torch.as_tensor(np.zeros(pt.D) if pair_std_vec is None else pair_std_vec, dtype=torch.float32,
                          device=dev)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best, best_state, bad, history, t0, longest = None, None, 0, [], time.time(), 0.0
    for ep in range(epochs):
        epoch_start = time.time()
        train_loss = train_epoch(model, opt, Wtr.shape[0], batch, gen, dev,
                                 lambda idx: figret_loss(pt, Ytr[idx], model(Wtr[idx], pt.mask),
                                                         Otr[idx], std, alpha), clip)
        full = ratio_summary(evaluate_dote(model, pt, Wva, Yva, Ova))
        val_summary = {key: full[key] for key in ("mean", "p90", "p99", "max", "n")}
        history.append({"epoch": ep + 1, "train_loss": train_loss, "val_mean": val_summary["mean"],
                        "val_p90": val_summary["p90"], "seconds": round(time.time() - t0, 1)})
        if progress:
            print(f"epoch {ep + 1}: loss {train_loss:.4f} val mean {val_summary['mean']:.4f} "
                  f"p90 {val_summary['p90']:.4f}", file=sys.stderr)
        if best is None or val_summary["mean"] < best["mean"] - 1e-5:
            best, bad = {**val_summary, "epoch": ep + 1}, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        longest = max(longest, time.time() - epoch_start)
        if bad >= patience or (max_seconds and time.time() - t0 + longest > max_seconds):
            break
    model.load_state_dict(best_state)
    return best, history


# ------------------------------------------------------------------ checkpoints

def pairs_digest(pathset) -> str:
    """sha256 over the pair order and candidate paths: what the input and output slots mean."""
    text = json.dumps([[list(map(int, d)), [list(map(int, p)) for p in paths]]
                       for d, paths in zip(pathset.demands, pathset.paths)])
    return hashlib.sha256(text.encode()).hexdigest()


def save_dote_checkpoint(path, model: DoteNet, meta: dict) -> dict:
    return write_weights(path, model, {"format": FORMAT, **meta, "model": model.config(),
                                       "n_params": n_params(model), "topology_specific": True})


def read_dote_sidecar(path) -> dict:
    side, meta = read_sidecar_json(path, FORMAT, "DOTE/FIGRET checkpoint")
    model = meta.get("model")
    if not isinstance(model, dict) or model.get("kind") not in KINDS:
        raise CheckpointError(side, f"model kind must be one of {', '.join(KINDS)}")
    for key in ("n_pairs", "k", "history", "hidden", "n_hidden"):
        value = model.get(key)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise CheckpointError(side, f"model {key} must be a whole number of at least 1, not {value!r}")
    if not isinstance(meta.get("topology"), dict) or not isinstance(meta.get("weights_sha256"), str):
        raise CheckpointError(side, "sidecar lacks 'topology' or 'weights_sha256'")
    return meta


def is_dote_checkpoint(path) -> bool:
    try:
        read_dote_sidecar(resolve(path))
    except CheckpointError:
        return False
    return True


def load_dote_checkpoint(path, network=None, pathset=None, kind: str | None = None, device="cpu"):
    """Load and verify; returns ``(model, meta)``. ``network`` / ``pathset``, when given, must be
    the ones it was trained on: these models' input and output are that network's pairs."""
    path = resolve(path)
    meta = read_dote_sidecar(path)
    data = verified_weights(path, meta)
    cfg = meta["model"]
    if kind is not None and cfg["kind"] != kind:
        raise CheckpointError(path, f"holds a {cfg['kind']!r} model, {kind!r} wanted")
    want = meta["topology"]
    if network is not None:
        have = topology_fingerprint(network)
        if want.get("sha256") != have["sha256"]:
            raise CheckpointError(path, f"a {cfg['kind']} model is topology-specific: trained on "
                                        f"{want.get('name')!r} ({want.get('n_nodes')} nodes, "
                                        f"{want.get('n_links')} links, {cfg['n_pairs']} pairs), it cannot "
                                        f"route {have['name']!r} ({have['n_nodes']} nodes, "
                                        f"{have['n_links']} links); train one there with qroute train "
                                        f"--model {cfg['kind']} --topology ...")
    if pathset is not None:
        if pathset.n_demands != cfg["n_pairs"] or pathset.k != cfg["k"]:
            raise CheckpointError(path, f"a {cfg['kind']} model is topology-specific: trained for "
                                        f"{cfg['n_pairs']} pairs x k={cfg['k']} paths, asked to route "
                                        f"{pathset.n_demands} pairs x k={pathset.k}")
        if meta.get("pairs_sha256") and meta["pairs_sha256"] != pairs_digest(pathset):
            raise CheckpointError(path, "trained on other candidate paths (or pair order) than these; "
                                        "its outputs would split over the wrong paths")
    try:
        state = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
        model = DoteNet(cfg["n_pairs"], cfg["k"], cfg["history"], cfg["hidden"], cfg["n_hidden"], cfg["kind"])
        model.load_state_dict(state)
    except Exception as err:  # noqa: BLE001 - torch raises many types for bad bytes
        raise CheckpointError(path, f"weights cannot be read or do not fit the described model "
                                    f"({type(err).__name__}: {err})") from None
    if not all(bool(torch.isfinite(v).all()) for v in model.state_dict().values()):
        raise CheckpointError(path, "weights hold NaN or infinite values: a diverged training run")
    return model.to(device).eval(), meta


class LoadedDote:
    """A DOTE/FIGRET checkpoint ready to decide on one network's path set."""

    def __init__(self, checkpoint, network, pathset, kind: str | None = None, device: str = "cpu"):
        self.model, self.meta = load_dote_checkpoint(checkpoint, network, pathset, kind, device)
        self.pt = PathTensors(pathset, device=device)
        self.history = self.model.history
        self.device = device
        self.n_params = n_params(self.model)

    @torch.no_grad()
    def decide(self, recent_demands: np.ndarray) -> np.ndarray:
        """Split (D, k) from the latest demand vectors (n, D), oldest first."""
        window = recent_window(recent_demands, self.history)
        x = torch.as_tensor(window[None], dtype=torch.float32, device=self.device)
        return self.model(x, self.pt.mask)[0].cpu().numpy().astype(float)


# ------------------------------------------------------------------ qroute train --model dote|figret

def run_train(args) -> int:
    """``qroute train --model dote|figret`` (the options of :mod:`qnn.models.train`)."""
    from qnn.models.dataset import load_dataset, time_split
    from qnn.models.train import PER_FLOW_OPTIONS, _argv_for

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.setting != "predictive":
        raise ValueError(f"--model {args.model} decides on the last matrices before the scored one: "
                         f"--setting predictive only")
    if args.single_path or args.anneal:
        raise ValueError(f"--model {args.model} trains split ratios; --single-path / --anneal do not apply")
    if args.model == "dote" and args.alpha:
        raise ValueError("--alpha weighs FIGRET's robustness term; --model dote is alpha 0 "
                         "(use --model figret)")
    ds = load_dataset(args.topology, args.traffic, k=args.k, data_dir=args.data_dir, tunnels=args.tunnels,
                      capacity_rule=args.capacity_rule,
                      n_synthetic=args.n_synthetic or 200,
                      traffic_seed=1 if args.traffic_seed is None else args.traffic_seed)
    windows = history_windows(ds.demands, args.history)[:-1]  # pair i decides on rows ..i
    targets, optima = ds.demands[1:], ds.opt[1:]  # scored on row i+1
    if np.any(optima <= 0):
        raise ValueError(f"{ds.traffic_file}: a matrix to score carries no traffic (LP optimum 0)")
    i_tr, i_va = time_split(len(windows), args.val_fraction)
    std = pair_std(ds.demands[: i_tr[-1] + 2])  # the matrices the training pairs see or are scored on
    pt = PathTensors(ds.pathset, device=args.device)
    model = DoteNet(ds.pathset.n_demands, ds.pathset.k, args.history, HIDDEN, HIDDEN_LAYERS[args.model],
                    args.model, seed=args.seed).to(args.device)
    best, history = fit_dote(model, pt, (windows[i_tr], targets[i_tr], optima[i_tr]),
                             (windows[i_va], targets[i_va], optima[i_va]), std, args.alpha,
                             epochs=args.epochs, lr=args.lr, batch=args.batch, patience=args.patience,
                             seed=args.seed, clip=args.clip, progress=not args.quiet,
                             max_seconds=args.max_minutes * 60 if args.max_minutes else None)
    if not math.isfinite(best["mean"]):
        raise ValueError(f"training diverged (validation MLU ratio {best['mean']}); no checkpoint written")
    meta = {
        "topology": topology_fingerprint(ds.network),
        "paths": ds.path_rule,
        "pairs_sha256": pairs_digest(ds.pathset),
        "input_size": int(args.history * ds.pathset.n_demands),
        "k": ds.pathset.k,
        "setting": "predictive",
        "history": args.history,
        "alpha": float(args.alpha),
        "data_files": {pathlib.Path(p).name: h for p, h in ds.files.items()},
        "split": {"train_pairs": [int(i_tr[0]), int(i_tr[-1])], "val_pairs": [int(i_va[0]), int(i_va[-1])],
                  "val_fraction": args.val_fraction},
        "training": {"epochs_run": len(history), "best_epoch": best["epoch"], "lr": args.lr,
                     "clip": args.clip, "batch": args.batch, "patience": args.patience,
                     "loss": "MLU / LP optimum" + (f" + {args.alpha:g} x FIGRET robustness"
                                                   if args.alpha else ""),
                     "threads": torch.get_num_threads(),
                     "seconds": history[-1]["seconds"] if history else 0.0,
                     "minutes": round((history[-1]["seconds"] if history else 0.0) / 60, 2)},
        "seed": args.seed,
        "validation": {k: v for k, v in best.items() if k != "epoch"},
        "command": "qroute train " + " ".join(shlex.quote(a) for a in _argv_for(args, PER_FLOW_OPTIONS)),
        "torch": torch.__version__,
    }
    side = save_dote_checkpoint(args.out, model, meta)
    print(f"saved {args.out} ({side['n_params']} parameters, {ds.network.name} only); validation MLU ratio "
          f"mean {best['mean']:.4f} p90 {best['p90']:.4f} (epoch {best['epoch']})")
    return 0

