"""How well simple forecasts predict the next Abilene traffic matrix.

A predictive router decides on matrices it has seen and is scored on the next one. This prints,
for the validation part of the Abilene week (matrices 1512-2015 by default, the part the shipped
checkpoints did not train on), the mean relative Frobenius error ||F_t - D_t|| / ||D_t|| of four
forecasts F_t of matrix D_t: the previous matrix, the mean of the last 3 and of the last 6, and
an exponential average of the earlier matrices. No randomness is involved. The file's diagonal
(traffic a node sends to itself) is kept unless ``--zero-diagonal`` drops it, as every router and
the bench do.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python scripts/forecast_error.py``.
The data is found by the usual rule (``$QROUTE_DATA_DIR``, else ``../shared/data``).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from topologies.abilene import ABILENE_NODES, ABILENE_TM
from topologies.datadir import DataUnavailableError, require_data
from topologies.traffic import load_traffic_matrices

FIRST_VALIDATION_MATRIX = 1512  # the shipped Abilene checkpoints' time split (sidecar split.train_pairs)


def mean_relative_error(forecast: dict[int, np.ndarray], matrices: np.ndarray, first: int) -> float:
    """Mean over t >= ``first`` of ||forecast[t] - matrices[t]|| / ||matrices[t]|| (Frobenius)."""
    return float(np.mean([np.linalg.norm(forecast[t] - matrices[t]) / np.linalg.norm(matrices[t])
                          for t in range(first, len(matrices))]))


def exponential_average(matrices: np.ndarray, weight: float) -> dict[int, np.ndarray]:
    """Forecast of matrix t from matrices 0..t-1: E_1 = D_0, E_t = weight D_{t-1} + (1 - weight) E_{t-1}."""
    forecast = {1: matrices[0]}
    for t in range(2, len(matrices)):
        forecast[t] = weight * matrices[t - 1] + (1.0 - weight) * forecast[t - 1]
    return forecast


def forecasts(matrices: np.ndarray, weight: float) -> dict[str, dict[int, np.ndarray]]:
    """Each forecast by name: matrix index t -> the forecast of matrix t from earlier matrices."""
    T = len(matrices)
    return {
        "last": {t: matrices[t - 1] for t in range(1, T)},
        "mean3": {t: matrices[t - 3:t].mean(axis=0) for t in range(3, T)},
        "mean6": {t: matrices[t - 6:t].mean(axis=0) for t in range(6, T)},
        f"ewma{weight:g}": exponential_average(matrices, weight),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/forecast_error.py", description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=FIRST_VALIDATION_MATRIX,
                        help=f"first scored matrix (default {FIRST_VALIDATION_MATRIX})")
    parser.add_argument("--weight", type=float, default=0.3,
                        help="exponential average: weight of the newest matrix (default 0.3)")
    parser.add_argument("--zero-diagonal", action="store_true",
                        help="drop each node's traffic to itself, as the routers see the matrices")
    args = parser.parse_args(argv)
    try:
        path = require_data(*ABILENE_TM)
    except DataUnavailableError as exc:
        print(f"forecast_error: error: {exc}", file=sys.stderr)
        return 2
    matrices = load_traffic_matrices(path, len(ABILENE_NODES), zero_diagonal=args.zero_diagonal)
    if not 6 <= args.first < len(matrices):
        parser.error(f"--first must be in 6..{len(matrices) - 1}")
    diagonal = "diagonal zeroed" if args.zero_diagonal else "diagonal as in the file"
    print(f"{path}: matrices {args.first}-{len(matrices) - 1} ({diagonal}), "
          f"mean relative Frobenius error of the forecast")
    for name, forecast in forecasts(matrices, args.weight).items():
        print(f"{name:>8}  {100.0 * mean_relative_error(forecast, matrices, args.first):.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
