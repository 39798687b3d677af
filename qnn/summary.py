"""Summaries of per-matrix MLU ratios (a method's MLU over the LP optimum of the same matrix)."""
from __future__ import annotations

import math

import numpy as np


def ratio_summary(ratios) -> dict:
    """Mean, median, 90th and 99th percentiles (numpy's linear interpolation), maximum and count
    of ``ratios``; the figures are NaN when there are none. Non-finite ratios are kept (a NaN
    marks a diverged model): drop them first where they mean "not scored"."""
    r = np.asarray(ratios, dtype=float).ravel()
    if not r.size:
        return {"mean": math.nan, "p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan, "n": 0}
    p50, p90, p99 = (float(np.percentile(r, q)) for q in (50, 90, 99))
    return {"mean": float(r.mean()), "p50": p50, "p90": p90, "p99": p99, "max": float(r.max()),
            "n": int(r.size)}
