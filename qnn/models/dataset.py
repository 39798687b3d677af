"""Training data: a network's candidate paths, its traffic matrices and their LP optima, and the
(decision, scored) matrix pairs of each setting in time order."""
from __future__ import annotations

import pathlib
import tempfile
from dataclasses import dataclass, field

import numpy as np

from qnn.models.checkpoint import HISTORY_REDUCERS, TARGET_LAG, sha256_file
from qnn.problems import (DEFAULT_TRAFFIC, candidate_pathset, check_first_optimum, default_traffic_file,
                          is_topology_path, load_network, open_topology)

TOPOLOGIES = tuple(DEFAULT_TRAFFIC)  # the networks with real traffic to train on


@dataclass
class Dataset:
    network: object
    pathset: object
    demands: np.ndarray  # (T, D)
    opt: np.ndarray  # (T,) LP-optimal MLU per matrix (splittable, same candidate paths)
    files: dict = field(default_factory=dict)  # path -> sha256
    path_rule: str = ""
    traffic_file: str = ""
    topology_file: object = None  # topologies.files.TopologyFile for a network given as a file


# solved LP optima, kept between runs (the repository's runs/, ignored by git)
LP_CACHE_DIR = pathlib.Path(__file__).resolve().parents[2] / "runs" / "cache"


def _lp_optimum(pathset, demands: np.ndarray, cache: pathlib.Path | None = None) -> np.ndarray:
    """Per-matrix path-LP optimum (:func:`qnn.lp.path_lp_optima`), cached in the file ``cache`` if given."""
    if cache is not None and cache.exists():
        try:
            vals = np.load(cache)
        except (OSError, ValueError, EOFError):
            vals = None  # a damaged cache (an interrupted write) is solved again and replaced
        if vals is not None and vals.shape == (demands.shape[0],) and np.all(np.isfinite(vals)):
            return vals
    from qnn.lp import path_lp_optima

    vals = path_lp_optima(pathset, demands)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache.parent, suffix=".partial", delete=False) as handle:
            np.save(handle, vals)
        pathlib.Path(handle.name).replace(cache)  # whole or not at all
    return vals



def load_dataset(topology: str, tm_file=None, k: int = 3, data_dir=None, tunnels=None,
                 capacity_rule: str = "uniform", n_synthetic: int = 200, traffic_seed: int = 1) -> Dataset:
    """Network, candidate paths (:func:`qnn.problems.candidate_pathset`), demands and LP optima
    for ``topology``, from its real matrices unless ``tm_file`` is given.

    GEANT: LP optima from the ``.opt`` file next to the matrices when there is one. Abilene: LP
    optima solved by :func:`qnn.lp.path_lp` (cached under ``runs/cache/``). A topology file
    (:mod:`topologies.files`, read with ``capacity_rule`` where it has no capacities) needs
    ``tm_file``; its paths are ``tunnels`` where given, else the k shortest by OSPF weight, and
    its optima come from the ``.opt`` file next to the matrices (checked on the first) or are
    solved and cached."""
    from topologies.datadir import data_dir as default_data_dir
    from topologies.traffic import load_traffic_matrices, load_values

    if is_topology_path(topology):
        return _load_file_dataset(topology, tm_file, k, tunnels, capacity_rule)
    if topology not in TOPOLOGIES:
        return _load_topohub_dataset(topology, tm_file, k, capacity_rule, n_synthetic, traffic_seed)
    root = pathlib.Path(data_dir) if data_dir else default_data_dir()
    tm_file = pathlib.Path(tm_file) if tm_file is not None else default_traffic_file(topology, data_dir)
    files = {}
    opt_from_file = None  # the optima file read, checked once the traffic is known to fit the paths
    net = load_network(topology, data_dir=root)
    ps, rule = candidate_pathset(topology, net, k, "weight", data_dir=root, tunnels=tunnels)
    tms = load_traffic_matrices(tm_file, net.n_nodes)
    dem = ps.demand_vector(tms)
    if topology == "geant":
        opt_file = tm_file.with_suffix(".opt")
        if opt_file.exists():
            opt = load_values(opt_file, positive=True)
            files[str(opt_file)] = sha256_file(opt_file)
            opt_from_file = opt_file
        else:
            opt = _lp_optimum(ps, dem)
        files[str(root / "geant" / "GEANT.json")] = sha256_file(root / "geant" / "GEANT.json")
        files[str(root / "geant" / "tunnels.txt")] = sha256_file(root / "geant" / "tunnels.txt")
    else:
        digest = sha256_file(tm_file)
        cache = LP_CACHE_DIR / f"lpopt-abilene-k{k}-{digest[:16]}.npy"
        opt = _lp_optimum(ps, dem, cache)
    ps.check_covers(tms, str(tm_file))
    if opt_from_file:
        check_first_optimum(ps, dem, opt, opt_from_file)
    files[str(tm_file)] = sha256_file(tm_file)
    if opt.shape[0] != dem.shape[0]:
        raise ValueError(f"{tm_file}: {dem.shape[0]} matrices but {opt.shape[0]} LP optima")
    return Dataset(net, ps, dem, opt, files, rule, str(tm_file))


def _load_file_dataset(topology, tm_file, k: int, tunnels, capacity_rule: str) -> Dataset:
    from topologies.traffic import load_traffic_matrices, load_values

    if tm_file is None:
        raise ValueError(f"{topology}: a topology file needs its traffic (--traffic FILE: one flattened "
                         f"N x N matrix a line, rows and columns in the node index order)")
    net, topology_file = open_topology(topology, capacity_rule=capacity_rule)
    ps, rule = candidate_pathset(topology, net, k, "weight", tunnels=tunnels, node_ids=topology_file.node_ids)
    tm_file = pathlib.Path(tm_file)
    tms = load_traffic_matrices(tm_file, net.n_nodes)
    ps.check_covers(tms, str(tm_file))
    dem = ps.demand_vector(tms)
    inputs = [pathlib.Path(topology), tm_file] + ([pathlib.Path(tunnels)] if tunnels else [])
    files = {str(p): sha256_file(p) for p in inputs}
    opt_file = tm_file.with_suffix(".opt")
    if opt_file.exists():
        opt = load_values(opt_file, positive=True)
        files[str(opt_file)] = sha256_file(opt_file)
        check_first_optimum(ps, dem, opt, opt_file)
    else:
        key = "-".join(files[str(p)][:12] for p in inputs)
        cache = LP_CACHE_DIR / f"lpopt-{pathlib.Path(topology).stem}-{capacity_rule}-k{k}-{key}.npy"
        opt = _lp_optimum(ps, dem, cache)
    if opt.shape[0] != dem.shape[0]:
        raise ValueError(f"{opt_file}: {dem.shape[0]} matrices but {opt.shape[0]} LP optima")
    return Dataset(net, ps, dem, opt, files, rule, str(tm_file), topology_file)


def _load_topohub_dataset(topology: str, tm_file, k: int, capacity_rule: str, n_synthetic: int,
                          traffic_seed: int) -> Dataset:
    """A topohub graph (no real traffic): its matrices from ``tm_file``, else ``n_synthetic``
    seeded gravity-model matrices. The bench draws its synthetic traffic with seed 0, so the
    default ``traffic_seed`` 1 trains on matrices the bench does not score."""
    from topologies.traffic import gravity_traffic, load_traffic_matrices

    net = load_network(topology, capacity_rule=capacity_rule)
    ps, rule = candidate_pathset(topology, net, k, "weight")
    if tm_file is not None:
        tm_file = pathlib.Path(tm_file)
        tms = load_traffic_matrices(tm_file, net.n_nodes)
        files, source = {str(tm_file): sha256_file(tm_file)}, str(tm_file)
        key = files[source][:16]
    else:
        tms = gravity_traffic(net, n_synthetic, seed=traffic_seed)
        files, source = {}, f"gravity model, {n_synthetic} matrices, seed {traffic_seed}"
        key = f"gravity-{n_synthetic}-s{traffic_seed}"
    ps.check_covers(tms, source)
    dem = ps.demand_vector(tms)
    cache = LP_CACHE_DIR / f"lpopt-{topology.replace('/', '-')}-{capacity_rule}-k{k}-{key}.npy"
    return Dataset(net, ps, dem, _lp_optimum(ps, dem, cache), files, rule, source)


def history_input(demands: np.ndarray, history: int, reduce: str = "mean") -> np.ndarray:
    """Decision inputs (T, D): row t reduces matrices t-history+1..t (fewer at the start)
    with ``HISTORY_REDUCERS[reduce]``."""
    if history <= 1:
        return demands
    fn = HISTORY_REDUCERS[reduce]
    return np.stack([fn(demands[max(0, t - history + 1): t + 1], axis=0) for t in range(len(demands))])


def history_windows(demands: np.ndarray, length: int) -> np.ndarray:
    """Windows (T, length, D): row t holds matrices t-length+1..t, oldest first; before the first
    matrix the window repeats it (a flow seen once has no trend and no volatility)."""
    demands = np.asarray(demands, dtype=float)
    rows = np.arange(len(demands))[:, None] + np.arange(1 - length, 1)[None, :]
    return demands[np.clip(rows, 0, None)]


def recent_window(recent_demands: np.ndarray, length: int) -> np.ndarray:
    """A live decision's window (length, D) from the latest demand vectors (n, D), oldest first:
    as :func:`history_windows` builds them, the oldest repeated where fewer are known."""
    recent = np.asarray(recent_demands, dtype=float)[-length:]
    if len(recent) < length:
        recent = np.concatenate([np.repeat(recent[:1], length - len(recent), axis=0), recent])
    return recent


def pairs(ds: Dataset, setting: str = "predictive", history: int = 1, history_reduce: str = "mean",
          feature_history: int = 1):
    """(inputs, targets, opt) arrays for the setting, in time order.

    Predictive: decide on the ``history`` matrices up to t-1 (reduced by ``history_reduce``),
    scored on matrix t. With ``feature_history`` H > 1 the inputs are windows (T, H, D) of the
    H matrices up to t-1 (a router with history features routes the last and reads them all)."""
    if setting not in TARGET_LAG:
        raise ValueError("setting must be predictive or oracle")
    lag = TARGET_LAG[setting]
    if feature_history > 1:
        if setting != "predictive" or history > 1:
            raise ValueError("history features read past matrices: predictive setting, history 1")
        inputs = history_windows(ds.demands, feature_history)
    elif setting == "predictive":
        inputs = history_input(ds.demands, history, history_reduce)
    else:
        inputs = ds.demands
    return inputs[:len(inputs) - lag], ds.demands[lag:], ds.opt[lag:]


def time_split(n: int, val_fraction: float):
    """Indices of the first (train) and last (validation) pairs; each part gets at least one."""
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < 1:
        raise ValueError(f"{n} (decision, scored) matrix pair(s) cannot be split {1 - val_fraction:g} / "
                         f"{val_fraction:g} into training and validation: too few traffic matrices")
    return np.arange(n - n_val), np.arange(n - n_val, n)
