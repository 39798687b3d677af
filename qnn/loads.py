"""Link loads and the figures of merit of a routing decision (numpy, sparse, batched).

Shapes: D demands, k path slots, L links, T traffic matrices. A *split* ``(D, k)`` (or
``(T, D, k)``) gives the fraction of each demand on each candidate path; a single-path
decision is a one-hot split. The differentiable torch twin lives with the QNN and uses the
same ``PathSet.incidence``.
"""
from __future__ import annotations

import numpy as np

from qnn.paths import PathSet


def one_hot(path_index: np.ndarray, k: int) -> np.ndarray:
    """Split ``(..., D, k)`` putting each demand entirely on ``path_index[..., d]``."""
    path_index = np.asarray(path_index, dtype=int)
    return (path_index[..., None] == np.arange(k)).astype(float)


def link_loads(pathset: PathSet, demand: np.ndarray, split: np.ndarray) -> np.ndarray:
    """Traffic on every link: demand ``(T, D)`` or ``(D,)`` routed by split ``(D, k)`` or ``(T, D, k)``.

    Returns ``(T, L)`` (``T = 1`` when both inputs are unbatched). One sparse matmul:
    slot flows ``(T, D*k)`` times the incidence ``(D*k, L)``.
    """
    demand = np.atleast_2d(np.asarray(demand, dtype=float))
    split = np.asarray(split, dtype=float)
    flows = demand[:, :, None] * split  # broadcasts (T, D, 1) * ((D, k) or (T, D, k))
    T = flows.shape[0]
    flows = flows.reshape(T, -1)
    return np.asarray((pathset.incidence.T @ flows.T).T)


def utilisation(loads: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Load divided by capacity, per link (same shape as ``loads``)."""
    return np.asarray(loads) / np.asarray(capacity)


def mlu(loads: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Maximum link utilisation over the last axis: ``(T, L) -> (T,)`` or ``(L,) -> scalar``."""
    return utilisation(loads, capacity).max(axis=-1)


def stretch(pathset: PathSet, split: np.ndarray) -> np.ndarray:
    """Per-flow stretch ``(D,)`` (or ``(T, D)``): expected hop count over the shortest hop count.

    The expectation is over the split (a flow split 50/50 over 2- and 4-hop paths has 3 hops);
    1.0 means every flow is on a shortest path.
    """
    return (np.asarray(split) * pathset.hops).sum(axis=-1) / pathset.shortest_hops


def churn(prev_split: np.ndarray | None, split: np.ndarray) -> float:
    """Share of traffic moved between two decisions, averaged over flows.

    Per flow this is the total-variation distance ``0.5 * sum_j |split - prev|``: 1 for a flow
    moved entirely to another path, 0.25 for a quarter re-split. For single-path decisions it is
    the fraction of flows that changed path. ``prev_split=None`` (first decision) gives 0.
    """
    if prev_split is None:
        return 0.0
    return float(0.5 * np.abs(np.asarray(split) - np.asarray(prev_split)).sum(axis=-1).mean())
