"""The learned router: per-flow path features -> a shared per-flow model (QNN or MLP) -> splits.

Everything here is torch and differentiable. One :class:`Router` wraps a per-flow *core*
(:class:`qnn.models.quantum.QNNCore` or :class:`qnn.models.mlp.MLPCore`, both mapping features
``(B, k, F)`` to logits ``(B, k)``) and runs it for all flows of all matrices as one batch, for ``n_rounds``
coordination rounds: each round re-reads the link loads the previous round's split would cause
and re-scores every flow's paths. ``update="residual"`` accumulates the rounds' logits (each round
corrects the last), ``"replace"`` uses only the last round's (each round scores afresh).

Features per (flow, path), all invariant to scaling the traffic:

* ``bottleneck``: utilisation of the path's busiest link / the current MLU (1 = touches the hottest link)
* ``share``: the flow's volume / the path's smallest capacity / the current MLU (clipped to 4)
* ``stretch``: the path's hop count / the network's shortest hop count for the pair, minus 1
* ``split``: the fraction of the flow the previous round put on this path
* ``bottleneck_wo``: like ``bottleneck`` but without this flow's own load on the path

History features (a router built with ``feature_history`` H > 1 decides on windows ``(T, H, D)``
of the last H matrices, oldest first: it routes the last one and reads the others' statistics),
the same on each of a flow's paths:

* ``trend``: the flow's last volume / its mean over the window, minus 1 (clipped to [-1, 4])
* ``volatility``: the standard deviation of its volumes over the window / their mean (clipped to 4)
* ``peak_share``: like ``share`` for the flow's largest volume in the window
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from qnn.summary import ratio_summary

MATRIX_FEATURES = ("bottleneck", "share", "stretch", "split", "bottleneck_wo")  # of the routed matrix
HISTORY_FEATURES = ("trend", "volatility", "peak_share")  # of each flow's window of past matrices
FEATURES = MATRIX_FEATURES + HISTORY_FEATURES
DEFAULT_FEATURES = ("bottleneck", "share", "stretch", "split")


class PathTensors:
    """Torch view of a :class:`qnn.paths.PathSet` (moved to one device).

    ``path_links`` (D*k, maxlen) lists each path slot's links padded with the dummy link ``L``
    (infinite capacity, zero load) so that per-path maxima and minima are one gather."""

    def __init__(self, pathset, device="cpu", dtype=torch.float32):
        inc = pathset.incidence.tocsr()
        D, k = pathset.mask.shape
        L = inc.shape[1]
        self.D, self.k, self.L = D, k, L
        lens = np.diff(inc.indptr)
        maxlen = max(1, int(lens.max()))
        idx = np.full((D * k, maxlen), L, dtype=np.int64)
        for r in range(D * k):
            cols = inc.indices[inc.indptr[r]:inc.indptr[r + 1]]
            idx[r, :len(cols)] = cols
        dev = torch.device(device)
        self.device = dev
        self.path_links = torch.as_tensor(idx, device=dev)
        cap = np.append(np.asarray(pathset.network.capacity, dtype=float), np.inf)
        self.capacity = torch.as_tensor(cap[:L], dtype=dtype, device=dev)
        self.inv_capacity = torch.as_tensor(np.append(1.0 / cap[:L], 0.0), dtype=dtype, device=dev)
        mincap = cap[idx].min(axis=1).reshape(D, k)
        mincap[~pathset.mask] = np.inf
        self.inv_mincap = torch.as_tensor(1.0 / mincap, dtype=dtype, device=dev)
        self.mask = torch.as_tensor(pathset.mask, device=dev)
        hops = np.asarray(pathset.hops, dtype=float)
        sh = np.asarray(getattr(pathset, "shortest_hops", hops.min(axis=1)), dtype=float)
        sh = np.where(np.isfinite(sh) & (sh > 0), sh, np.where(pathset.mask, hops, np.inf).min(axis=1))
        stretch = np.where(pathset.mask, hops / sh[:, None] - 1.0, 0.0)
        self.stretch = torch.as_tensor(stretch, dtype=dtype, device=dev)
        coo = inc.tocoo()
        i = torch.as_tensor(np.vstack([coo.col, coo.row]), dtype=torch.long)
        # (L, D*k) sparse transpose of the incidence: loads^T = A^T @ flows^T
        self.incidence_t = torch.sparse_coo_tensor(
            i, torch.ones(coo.nnz, dtype=dtype), (L, D * k), device=dev,
            check_invariants=True).coalesce()

    def loads(self, demand: torch.Tensor, split: torch.Tensor) -> torch.Tensor:
        """Link loads (T, L) for demand (T, D) routed by split (T, D, k)."""
        flows = (demand.unsqueeze(-1) * split).reshape(demand.shape[0], -1)
        return torch.sparse.mm(self.incidence_t, flows.T).T

    def utilisation(self, demand, split):
        return self.loads(demand, split) * self.inv_capacity[:self.L]

    def path_max(self, link_values: torch.Tensor) -> torch.Tensor:
        """Per path slot maximum over its links: (T, L) -> (T, D, k) (0 for padding slots)."""
        T = link_values.shape[0]
        padded = torch.cat([link_values, link_values.new_zeros(T, 1)], dim=1)
        return padded[:, self.path_links].amax(-1).reshape(T, self.D, self.k)


def n_params(module: nn.Module) -> int:
    """Trainable parameters of any module (a router, a QNN or an MLP core)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _mlu(pt: PathTensors, demand, split):
    return pt.utilisation(demand, split).amax(-1)


class Router(nn.Module):
    """Round loop around a per-flow core. ``forward(demand) -> split (T, D, k)``."""

    def __init__(self, core: nn.Module, n_rounds: int = 4, features: Sequence[str] = DEFAULT_FEATURES,
                 update: str = "residual", feature_history: int = 1):
        super().__init__()
        for f in features:
            if f not in FEATURES:
                raise ValueError(f"unknown feature {f!r}; known: {', '.join(FEATURES)}")
        if update not in ("residual", "replace"):
            raise ValueError("update must be 'residual' or 'replace'")
        if getattr(core, "n_features", len(features)) != len(features):
            raise ValueError(f"core expects {core.n_features} features, {len(features)} given")
        history_features = [f for f in features if f in HISTORY_FEATURES]
        if history_features and feature_history < 2:
            raise ValueError(f"{', '.join(history_features)} read a window of past matrices: "
                             f"feature_history must be at least 2, not {feature_history}")
        if feature_history > 1 and not history_features:
            raise ValueError(f"feature_history {feature_history} without a history feature "
                             f"({', '.join(HISTORY_FEATURES)}) would read windows for nothing")
        self.core = core
        self.n_rounds = n_rounds
        self.features = tuple(features)
        self.update = update
        self.feature_history = int(feature_history)

    @property
    def k(self) -> int:
        return self.core.k

    def path_features(self, pt: PathTensors, demand: torch.Tensor, split: torch.Tensor,
                      window: torch.Tensor | None = None) -> torch.Tensor:
        """(T, D, k, F) features for demand (T, D) under split (T, D, k); ``window`` (T, H, D):
        the last H matrices (demand the last of them), which the history features read."""
        T = demand.shape[0]
        util = pt.utilisation(demand, split)
        m = util.amax(-1).clamp_min(1e-12)  # (T,)
        inv_m = (1.0 / m).view(T, 1, 1)
        out = []
        bott = None
        for f in self.features:
            if f == "bottleneck":
                bott = pt.path_max(util) if bott is None else bott
                out.append(bott * inv_m)
            elif f == "share":
                out.append((demand.unsqueeze(-1) * pt.inv_mincap * inv_m).clamp(max=4.0))
            elif f == "stretch":
                out.append(pt.stretch.expand(T, -1, -1))
            elif f == "split":
                out.append(split)
            elif f == "bottleneck_wo":
                # utilisation without this flow's own contribution on the path's links:
                own = (demand.unsqueeze(-1) * split).reshape(T, -1, 1) * \
                    pt.inv_capacity[pt.path_links].unsqueeze(0)  # (T, D*k, maxlen)
                padded = torch.cat([util, util.new_zeros(T, 1)], dim=1)[:, pt.path_links]
                wo = (padded - own).amax(-1).reshape(T, pt.D, pt.k)
                out.append(wo * inv_m)
            else:
                out.append(self._history_feature(f, pt, window, inv_m))
        return torch.stack(out, dim=-1)

    @staticmethod
    def _history_feature(name: str, pt: PathTensors, window: torch.Tensor | None,
                         inv_m: torch.Tensor) -> torch.Tensor:
        if window is None:
            raise ValueError(f"feature {name!r} needs the window of past matrices")
        T = window.shape[0]
        mean = window.mean(1).clamp_min(1e-12)  # (T, D)
        if name == "trend":
            per_flow = (window[:, -1] / mean - 1.0).clamp(-1.0, 4.0)
        elif name == "volatility":
            per_flow = (window.std(1, unbiased=False) / mean).clamp(max=4.0)
        else:  # peak_share
            return (window.amax(1).unsqueeze(-1) * pt.inv_mincap * inv_m).clamp(max=4.0)
        return per_flow.unsqueeze(-1).expand(T, pt.D, pt.k)

    def initial_split(self, pt: PathTensors, T: int) -> torch.Tensor:
        m = pt.mask.to(torch.float32)
        return (m / m.sum(-1, keepdim=True)).expand(T, -1, -1)

    def forward(self, pt: PathTensors, demand: torch.Tensor, n_rounds: int | None = None,
                return_rounds: bool = False, core_fn=None, temperature: float = 1.0):
        """Splits (T, D, k) for input demand (T, D). ``core_fn`` overrides the core call
        (used by the realism evaluation to inject shot noise / decoherence). ``temperature``
        divides the final logits only (the rounds read the loads of the plain split): below 1
        it sharpens the split towards one path per flow without changing which path wins."""
        window = None
        if self.feature_history > 1:
            if demand.dim() != 3 or demand.shape[1] != self.feature_history:
                raise ValueError(f"this router decides on windows (T, {self.feature_history}, D) of past "
                                 f"matrices, got {tuple(demand.shape)}")
            window, demand = demand, demand[:, -1]
        T = demand.shape[0]
        core_fn = core_fn or self.core
        split = self.initial_split(pt, T)
        logits = torch.zeros_like(split)
        rounds = []
        neg = torch.finfo(split.dtype).min
        n = self.n_rounds if n_rounds is None else n_rounds
        for r in range(n):
            feats = self.path_features(pt, demand, split, window)
            out = core_fn(feats.reshape(T * pt.D, pt.k, -1)).reshape(T, pt.D, pt.k)
            logits = logits + out if self.update == "residual" else out
            sharpen = temperature if r == n - 1 else 1.0  # only the returned split
            split = torch.softmax((logits / sharpen).masked_fill(~pt.mask, neg), dim=-1)
            rounds.append(split)
        return rounds if return_rounds else split

    def config(self) -> dict:
        return {"n_rounds": self.n_rounds, "features": list(self.features), "update": self.update,
                **({"feature_history": self.feature_history} if self.feature_history > 1 else {}),
                **self.core.config()}


def smooth_mlu_ratio(pt: PathTensors, demand, split, opt, beta: float = 50.0) -> torch.Tensor:
    """Per matrix log-sum-exp (beta) smooth maximum of utilisation / LP optimum, (T,)."""
    r = pt.utilisation(demand, split) / opt.unsqueeze(-1)
    return torch.logsumexp(beta * r, dim=-1) / beta


def hard_split(split: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One path per flow: argmax of the split as a one-hot split."""
    idx = split.masked_fill(~mask, -1.0).argmax(-1)
    return torch.nn.functional.one_hot(idx, split.shape[-1]).to(split.dtype)


@dataclass
class Evaluation:
    ratios: np.ndarray  # (T,) MLU / LP optimum

    @property
    def summary(self) -> dict:
        full = ratio_summary(self.ratios)
        return {key: full[key] for key in ("mean", "p90", "p99", "max", "n")}


@torch.no_grad()
def evaluate(router: Router, pt: PathTensors, inputs: torch.Tensor, targets: torch.Tensor,
             opt: torch.Tensor, single_path: bool = False, batch: int = 64, core_fn=None) -> Evaluation:
    """MLU ratios on ``targets`` when deciding from ``inputs`` (predictive: previous matrices;
    oracle: inputs == targets). ``core_fn`` replaces the core call (see :meth:`Router.forward`)."""
    router.eval()
    out = []
    for a in range(0, inputs.shape[0], batch):
        s = router(pt, inputs[a:a + batch], core_fn=core_fn)
        if single_path:
            s = hard_split(s, pt.mask)
        out.append((_mlu(pt, targets[a:a + batch], s) / opt[a:a + batch]).cpu())
    return Evaluation(torch.cat(out).numpy().astype(float))
