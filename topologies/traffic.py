"""Traffic matrices: the real data files and a synthetic gravity model with bursts."""
from __future__ import annotations

import math
import pathlib

import numpy as np

from topologies.errors import DataFormatError
from topologies.textfile import numbered_lines


def load_traffic_matrices(path, n_nodes: int, zero_diagonal: bool = True) -> np.ndarray:
    """Read one flattened row-major ``n_nodes x n_nodes`` matrix a line -> array ``(T, N, N)``.

    Raises :class:`DataFormatError` naming the file and line for a wrong value count, a value
    that is not a number, NaN/infinite or negative demand. The diagonal is not traffic in
    either data set and is zeroed unless ``zero_diagonal=False``.
    """
    path = pathlib.Path(path)
    expected = n_nodes * n_nodes
    rows = []
    for lineno, line in numbered_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != expected:
            raise DataFormatError(path, lineno,
                                  f"expected {expected} values ({n_nodes}x{n_nodes}), got {len(fields)}")
        try:
            row = np.array(fields, dtype=float)
        except ValueError:
            raise DataFormatError(path, lineno, "value that is not a number") from None
        bad = ~np.isfinite(row)
        if bad.any():
            col = int(np.argmax(bad))
            raise DataFormatError(path, lineno, f"NaN or infinite demand at value {col + 1} ({fields[col]})")
        if (row < 0).any():
            col = int(np.argmax(row < 0))
            raise DataFormatError(path, lineno, f"negative demand {fields[col]} at value {col + 1}")
        rows.append(row)
    if not rows:
        raise DataFormatError(path, None, "no traffic matrices in file")
    tms = np.stack(rows).reshape(len(rows), n_nodes, n_nodes)
    if zero_diagonal:
        idx = np.arange(n_nodes)
        tms[:, idx, idx] = 0.0
    return tms


def load_values(path, positive: bool = False) -> np.ndarray:
    """One number a line (e.g. GEANT's ``.opt`` files) -> 1-D array; errors name file and line.

    ``positive``: every value must be > 0 (optima that losses and ratios divide by)."""
    path = pathlib.Path(path)
    values = []
    for lineno, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            value = float(line)
        except ValueError:
            raise DataFormatError(path, lineno, f"expected one number, got {line.strip()!r}") from None
        if not math.isfinite(value):
            raise DataFormatError(path, lineno, "value is NaN or infinite")
        if positive and value <= 0:
            raise DataFormatError(path, lineno, f"value must be positive, got {value:g}")
        values.append(value)
    return np.array(values)


def gravity_traffic(network, n_matrices: int, seed: int, load: float = 0.3, noise: float = 0.1,
                    burst_probability: float = 0.02, burst_factor: float = 4.0, burst_length: int = 3,
                    period: int = 288, pairs=None, base=None) -> np.ndarray:
    """Synthetic traffic ``(n_matrices, N, N)`` from a gravity model with a daily cycle and bursts.

    * node mass = its total outgoing capacity times a lognormal factor (sigma 0.5), so well
      connected nodes send and receive more; demand i->j is proportional to mass_i * mass_j;
    * total volume follows a sinusoid with ``period`` steps (+-30 %) and each entry gets
      independent lognormal noise of relative size ``noise``;
    * each pair starts a burst with ``burst_probability`` per step: ``burst_factor`` times its
      volume for ``burst_length`` steps (the surprises a predictive controller must absorb);
    * volumes are scaled so that the mean total demand equals ``load`` x total capacity /
      mean hop count, i.e. links would be ~``load`` utilised on average under perfect spreading;
    * ``pairs`` (optional list of (src, dst)) restricts traffic to those pairs, others are 0;
    * ``base`` (optional ``N x N`` matrix, e.g. a topology file's SNDlib demands) replaces the
      gravity model's who-sends-to-whom: its shape is kept, its volume scaled as above.
    """
    import networkx as nx

    rng = np.random.default_rng(seed)
    n = network.n_nodes
    out_capacity = np.zeros(n)
    np.add.at(out_capacity, [u for u, _ in network.links], network.capacity)
    if base is None:
        mass = out_capacity * rng.lognormal(0.0, 0.5, size=n)
        base = np.outer(mass, mass)
    else:
        base = np.array(base, dtype=float)
        if base.shape != (n, n) or not np.all(np.isfinite(base)) or (base < 0).any():
            raise ValueError(f"the base traffic must be a finite non-negative {n} x {n} matrix")
    np.fill_diagonal(base, 0.0)
    if not base.any():
        raise ValueError("the base traffic carries no demand off the diagonal")
    if pairs is not None:
        keep = np.zeros((n, n), dtype=bool)
        src, dst = zip(*pairs) if len(pairs) else ((), ())
        keep[list(src), list(dst)] = True
        base = np.where(keep, base, 0.0)
    hops = nx.average_shortest_path_length(network.graph()) if n > 1 else 1.0
    base *= load * network.capacity.sum() / hops / base.sum()
    steps = np.arange(n_matrices)
    daily = 1.0 + 0.3 * np.sin(2 * np.pi * steps / period)
    tms = base[None] * daily[:, None, None] * rng.lognormal(-0.5 * noise**2, noise, size=(n_matrices, n, n))
    starts = rng.random((n_matrices, n, n)) < burst_probability
    bursting = np.zeros((n_matrices, n, n), dtype=bool)
    for lag in range(burst_length):
        bursting[lag:] |= starts[: n_matrices - lag]
    tms[bursting] *= burst_factor
    return tms
