"""How the trained QNN fares on a real quantum computer's terms: finite shots and noise.

* **Shots**: every circuit execution (one per flow per coordination round) is measured ``shots``
  times; ``<Z_q>`` is estimated from the sampled counts. Counts are drawn exactly from the
  multinomial over the 2^n outcomes of the state's probabilities (as a chain of conditional
  binomials, which is cheap for large batches).
* **Depolarising noise**: an analytic density-matrix simulation (our own, batched 2^n x 2^n;
  TorchQuantum's gate matrices): after every encoding layer and after every trainable block each
  qubit goes through the single-qubit depolarising channel
  ``rho -> (1 - 3p/4) rho + (p/4) (X rho X + Y rho Y + Z rho Z)`` (with probability p the qubit is
  replaced by the maximally mixed state). ``p`` is per qubit per step, so a 3-layer circuit has
  6 noisy steps per qubit. Shots can be combined with noise.

:func:`realism_table` evaluates a router under these conditions with the predictive protocol;
``qroute realism --checkpoint qnn-geant`` prints it for a checkpoint's validation pairs.
"""
from __future__ import annotations

import numpy as np
import torch

from qnn.argtypes import comma_list, nonnegative_int, positive_int, probability
from qnn.models.quantum import QNNCore
from qnn.summary import ratio_summary
from qnn.tables import markdown_table

_PAULI = {
    "x": torch.tensor([[0, 1], [1, 0]], dtype=torch.complex64),
    "y": torch.tensor([[0, -1j], [1j, 0]], dtype=torch.complex64),
    "z": torch.tensor([[1, 0], [0, -1]], dtype=torch.complex64),
}


def _on_wire(m: torch.Tensor, q: int, n: int) -> torch.Tensor:
    out = torch.ones(1, 1, dtype=torch.complex64)
    for w in range(n):
        out = torch.kron(out, m if w == q else torch.eye(2, dtype=torch.complex64))
    return out


def sample_probs(probs: torch.Tensor, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Empirical outcome frequencies (B, M) from ``shots`` multinomial draws per row of ``probs``."""
    probs = probs.clamp_min(0).double()
    probs = probs / probs.sum(-1, keepdim=True)
    B, M = probs.shape
    counts = torch.zeros(B, M, dtype=torch.float64, device=probs.device)
    remaining = torch.full((B,), float(shots), dtype=torch.float64, device=probs.device)
    rest = torch.ones(B, dtype=torch.float64, device=probs.device)
    for j in range(M - 1):
        p = (probs[:, j] / rest.clamp_min(1e-15)).clamp(0, 1)
        c = torch.binomial(remaining, p, generator=generator)
        counts[:, j] = c
        remaining = remaining - c
        rest = rest - probs[:, j]
    counts[:, M - 1] = remaining
    return (counts / shots).float()


def density_probs(core: QNNCore, x: torch.Tensor, p: float) -> torch.Tensor:
    """Outcome probabilities (B, 2^n) of the circuit with depolarising noise ``p`` (see module doc)."""
    n = core.n_wires
    B = x.shape[0]
    enc = core.encoding_matrices(core.angles(x))  # (B, L, n, 2, 2)
    us = core.block_unitaries()
    paulis = [[_on_wire(_PAULI[a], q, n).to(x.device) for a in "xyz"] for q in range(n)]
    rho = torch.zeros(B, 2 ** n, 2 ** n, dtype=torch.complex64, device=x.device)
    rho[:, 0, 0] = 1.0

    def depolarise(r):
        if p <= 0:
            return r
        for q in range(n):
            mixed = sum(P @ r @ P for P in paulis[q])
            r = (1 - 0.75 * p) * r + (0.25 * p) * mixed
        return r

    for layer in range(core.n_layers):
        e = enc[:, layer]
        K = e[:, 0]
        for q in range(1, n):  # kron of the per-qubit encoding gates -> (B, 2^n, 2^n)
            K = torch.einsum("bij,bkl->bikjl", K, e[:, q]).reshape(B, 2 ** (q + 1), 2 ** (q + 1))
        rho = depolarise(K @ rho @ K.conj().transpose(1, 2))
        U = us[layer]
        rho = depolarise(U @ rho @ U.conj().T)
    return torch.diagonal(rho, dim1=1, dim2=2).real


def noisy_core_fn(core: QNNCore, shots: int | None = None, depolarising: float = 0.0,
                  generator: torch.Generator | None = None):
    """A replacement for ``core(x)`` that measures with finite shots and/or noise."""

    def fn(x):
        if depolarising > 0:
            probs = density_probs(core, x, depolarising)
        else:
            psi = core.state(x)
            probs = psi.real ** 2 + psi.imag ** 2
        if shots:
            probs = sample_probs(probs, shots, generator)
        return core.readout(probs @ core.zs)

    return fn


@torch.no_grad()
def evaluate_realism(router, pt, inputs, targets, opt, shots=None, depolarising=0.0, seed=0,
                     batch=16, single_path=False) -> np.ndarray:
    from qnn.models.router import evaluate

    gen = torch.Generator().manual_seed(seed)
    fn = noisy_core_fn(router.core, shots, depolarising, gen)
    return evaluate(router, pt, inputs, targets, opt, single_path=single_path, batch=batch,
                    core_fn=fn).ratios


def realism_table(router, pt, inputs, targets, opt, shots_list=(256, 1024, 8192),
                  noise_list=(0.001, 0.01, 0.05), seed=0) -> list[dict]:
    rows = []

    def add(label, shots, p):
        summary = ratio_summary(evaluate_realism(router, pt, inputs, targets, opt, shots, p, seed))
        rows.append({"condition": label, "shots": shots, "depolarising": p,
                     **{key: summary[key] for key in ("mean", "p90", "p99")}})

    add("exact (statevector)", None, 0.0)
    for s in shots_list:
        add(f"{s} shots", s, 0.0)
    for p in noise_list:
        add(f"depolarising p={p}", None, p)
    if shots_list and noise_list:  # the second of each (the first when there is one)
        shots, p = shots_list[min(1, len(shots_list) - 1)], noise_list[min(1, len(noise_list) - 1)]
        add(f"{shots} shots + p={p}", shots, p)
    base = rows[0]["mean"]
    for r in rows:
        r["degradation"] = r["mean"] / base - 1.0
    return rows


def format_rows(rows) -> str:
    header = ("condition", "MLU/opt mean", "p90", "p99", "mean degradation")
    cells = [[r["condition"], f"{r['mean']:.4f}", f"{r['p90']:.4f}", f"{r['p99']:.4f}",
              f"{100 * r['degradation']:+.2f}%"] for r in rows]
    return markdown_table(header, cells, "lrrrr", tight_rule=True)


def add_arguments(p) -> None:
    p.add_argument("--checkpoint", default="qnn-geant",
                   help="QNN checkpoint (shipped name or .pt; default qnn-geant)")
    p.add_argument("--shots", type=comma_list(positive_int, allow_empty=True), default="256,1024,8192",
                   help="comma-separated shot counts ('': no finite-shot rows)")
    p.add_argument("--noise", type=comma_list(probability, allow_empty=True), default="0.001,0.01,0.05",
                   help="depolarising p per qubit per step, comma-separated ('': no noise rows)")
    p.add_argument("--setting", choices=("predictive", "oracle"), default="predictive")
    p.add_argument("--limit", type=positive_int, default=None, help="use only the first N validation pairs")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")


def run(args) -> int:
    """The realism table on the checkpoint's validation pairs."""
    from qnn.models.checkpoint import history_reduce, load_checkpoint
    from qnn.models.router import PathTensors
    from qnn.models.dataset import load_dataset, pairs, time_split

    if args.threads:
        torch.set_num_threads(args.threads)
    router, meta = load_checkpoint(args.checkpoint, kind="qnn")
    ds = load_dataset(meta["topology"]["name"], k=router.k)
    X, Y, optima = pairs(ds, args.setting, meta.get("history", 1) if args.setting == "predictive" else 1,
                         history_reduce(meta), router.feature_history)
    _, va = time_split(len(X), meta["split"]["val_fraction"])
    if args.limit:
        va = va[:args.limit]
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    rows = realism_table(router, PathTensors(ds.pathset), t(X[va]), t(Y[va]), t(optima[va]),
                         args.shots, args.noise, args.seed)
    print(f"{meta['topology']['name']}, {args.setting}, {len(va)} validation matrices, split mode")
    print(format_rows(rows))
    return 0
