"""Optimal routings by linear programming (scipy's HiGHS): path LP, single-path MILP, edge MCF.

All three minimise the maximum link utilisation U. Demands are divided by link capacity in the
constraint rows and the path forms also divide the demand vector by a bound on U (the MLU is
proportional to the traffic), so coefficients are of order 1 whatever the traffic's units and
HiGHS's absolute tolerances (1e-7) are relative to U.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from qnn.loads import one_hot
from qnn.network import Network
from qnn.paths import PathSet


@dataclass
class PathOptimum:
    """An optimal (or best found) path-form routing: ``split (D, k)`` and its MLU."""

    mlu: float
    split: np.ndarray
    status: str = "optimal"


class _PathProblem:
    """The constraint structure shared by every matrix for one PathSet (built once)."""

    def __init__(self, pathset: PathSet):
        self.pathset = pathset
        self.slots = np.flatnonzero(pathset.mask.ravel())  # real path slots, in d*k+j order
        self.slot_demand = self.slots // pathset.k
        self.inc_t = pathset.incidence[self.slots].T.tocsr()  # (L, S)
        S, D = len(self.slots), pathset.n_demands
        self.a_eq = sp.hstack([
            sp.csr_matrix((np.ones(S), (self.slot_demand, np.arange(S))), shape=(D, S)),
            sp.csr_matrix((D, 1)),
        ]).tocsr()
        self.inv_cap = 1.0 / pathset.network.capacity
        self.util_t = sp.diags(self.inv_cap) @ self.inc_t  # (L, S): utilisation per unit of path flow
        self.objective = np.zeros(S + 1)  # variables: the path flows, then the MLU to minimise
        self.objective[-1] = 1.0

    def link_rows(self, demand: np.ndarray) -> sp.csr_matrix:
        """Rows ``utilisation(l) - U <= 0`` for one demand vector ``(D,)``."""
        scaled = self.util_t @ sp.diags(demand[self.slot_demand])
        L = scaled.shape[0]
        return sp.hstack([scaled, -sp.csr_matrix(np.ones((L, 1)))]).tocsr()

    def utilisation_bound(self, demand: np.ndarray) -> float:
        """The MLU if every demand sent its whole volume down each of its paths: never below the
        optimum (4-15 times it on GEANT and Abilene), so dividing the demands by it brings the
        optimum within an order of magnitude of 1 whatever the traffic's units."""
        return float((self.util_t @ demand[self.slot_demand]).max(initial=0.0))

    def to_split(self, x: np.ndarray) -> np.ndarray:
        split = np.zeros(self.pathset.mask.size)
        split[self.slots] = np.clip(x[: len(self.slots)], 0.0, None)
        split = split.reshape(self.pathset.mask.shape)
        return split / split.sum(axis=1, keepdims=True)


def _problem(pathset: PathSet) -> _PathProblem:
    """The LP structure of a PathSet, cached on the PathSet itself (lives and dies with it)."""
    prob = getattr(pathset, "_lp_problem", None)
    if prob is None:
        prob = _PathProblem(pathset)
        pathset._lp_problem = prob
    return prob


def _solve_min_mlu(prob: _PathProblem, a_ub, what: str) -> PathOptimum:
    """Minimise the MLU variable subject to ``a_ub`` rows and every demand routed in full."""
    res = linprog(prob.objective, A_ub=a_ub, b_ub=np.zeros(a_ub.shape[0]), A_eq=prob.a_eq,
                  b_eq=np.ones(prob.pathset.n_demands), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"{what} failed: {res.message}")
    return PathOptimum(float(res.x[-1]), prob.to_split(res.x))


def path_lp(pathset: PathSet, demand: np.ndarray) -> PathOptimum:
    """Min-MLU splittable routing over the candidate paths (the path-form LP optimum)."""
    prob = _problem(pathset)
    demand = np.asarray(demand, dtype=float)
    unit = prob.utilisation_bound(demand) or 1.0
    best = _solve_min_mlu(prob, prob.link_rows(demand / unit), "path LP")
    return PathOptimum(best.mlu * unit, best.split, best.status)


def path_lp_optima(pathset: PathSet, demands: np.ndarray) -> np.ndarray:
    """The path-LP optimum MLU (:func:`path_lp`) of every demand vector in ``demands`` ``(T, D)``.

    One HiGHS model serves all of them: its variables are path flows rather than shares, so a
    new matrix changes only the right-hand sides of the demand rows and the dual simplex
    restarts from the previous matrix's optimal basis (a few hundred iterations instead of tens
    of thousands on a 150-node network). Solved by :func:`path_lp` one at a time where scipy's
    HiGHS binding is not available."""
    demands = np.atleast_2d(np.asarray(demands, dtype=float))
    solver = _WarmPathLP.create(_problem(pathset))
    if solver is None:
        return np.array([path_lp(pathset, d).mlu for d in demands], dtype=float)
    return np.array([solver.solve(d) for d in demands], dtype=float)


class _WarmPathLP:
    """The path LP of one PathSet in flow variables, kept in one HiGHS instance between matrices.

    Rows: per demand ``sum of its path flows = volume`` (the only rows a matrix changes), per link
    ``sum of its path flows * c_min / c_l - U <= 0``. Each matrix's volumes are divided by
    ``c_min`` and by :meth:`_PathProblem.utilisation_bound` (as :func:`path_lp` scales), so that
    the coefficients and the optimum stay of order 1 whatever the traffic's units; the LP is
    homogeneous in the volumes, so the previous basis stays a valid start after the rescaling."""

    def __init__(self, highs_module, prob: _PathProblem):
        self.prob = prob
        self.core = highs_module
        cap = np.asarray(prob.pathset.network.capacity, dtype=float)
        self.c_min = float(cap.min())
        util = sp.diags(self.c_min / cap) @ prob.inc_t  # (L, S)
        S, D, L = len(prob.slots), prob.pathset.n_demands, util.shape[0]
        self.n_demands = D
        a = sp.vstack([sp.hstack([prob.a_eq[:, :S], sp.csr_matrix((D, 1))]),
                       sp.hstack([util, -sp.csr_matrix(np.ones((L, 1)))])]).tocsc()
        inf = highs_module.kHighsInf
        lp = highs_module.HighsLp()
        lp.num_col_, lp.num_row_ = S + 1, D + L
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = S + 1, D + L
        lp.a_matrix_.format_ = highs_module.MatrixFormat.kColwise
        lp.col_cost_ = prob.objective
        lp.col_lower_ = np.zeros(S + 1)
        lp.col_upper_ = np.full(S + 1, inf)
        lp.row_lower_ = np.r_[np.ones(D), np.full(L, -inf)]
        lp.row_upper_ = np.r_[np.ones(D), np.zeros(L)]
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        self.highs = highs_module._Highs()
        self.highs.setOptionValue("output_flag", False)
        if self.highs.passModel(lp) != highs_module.HighsStatus.kOk:
            raise RuntimeError("HiGHS refused the path LP")  # e.g. coefficients it would drop

    @classmethod
    def create(cls, prob: _PathProblem):
        """The solver, or None where scipy's bundled HiGHS binding (a private module) is missing
        or has another interface."""
        try:
            from scipy.optimize._highspy import _core
            return cls(_core, prob)
        except (ImportError, AttributeError, TypeError, RuntimeError):
            return None

    def solve(self, demand: np.ndarray) -> float:
        demand = np.asarray(demand, dtype=float)
        unit = self.prob.utilisation_bound(demand) or 1.0
        volumes = demand / (unit * self.c_min)
        for row, volume in enumerate(volumes):
            self.highs.changeRowBounds(row, volume, volume)
        self.highs.run()
        if self.highs.getModelStatus() != self.core.HighsModelStatus.kOptimal:
            self.highs.clearSolver()  # solved afresh by path_lp, and the next matrix starts cold
            return path_lp(self.prob.pathset, demand).mlu
        return float(self.highs.getInfo().objective_function_value) * unit


def robust_path_lp(pathset: PathSet, demands: np.ndarray, scale: np.ndarray | None = None) -> PathOptimum:
    """One split for several matrices at once: minimise the largest of their MLUs, each divided
    by ``scale[s]`` (e.g. that matrix's own LP optimum, so every matrix counts alike). The split
    hedges against the traffic moving between the matrices it has seen. ``mlu`` is that
    largest scaled MLU."""
    prob = _problem(pathset)
    demands = np.atleast_2d(np.asarray(demands, dtype=float))
    scale = np.ones(len(demands)) if scale is None else np.asarray(scale, dtype=float)
    if scale.shape != (len(demands),) or np.any(scale <= 0):
        raise ValueError("scale needs one positive value per matrix")
    scaled = demands / scale[:, None]
    unit = max(prob.utilisation_bound(d) for d in scaled) or 1.0
    a_ub = sp.vstack([prob.link_rows(d / unit) for d in scaled]).tocsr()
    best = _solve_min_mlu(prob, a_ub, "robust path LP")
    return PathOptimum(best.mlu * unit, best.split, best.status)


def single_path_milp(pathset: PathSet, demand: np.ndarray, time_limit: float | None = 2.0,
                     mip_rel_gap: float = 1e-3) -> PathOptimum:
    """Min-MLU routing with each demand on exactly one candidate path (binary MILP).

    Stops at ``time_limit`` seconds or a relative gap of ``mip_rel_gap``; ``status`` says
    which. If no integer solution was found in time, falls back to rounding the LP split to
    each demand's largest share (status ``"lp-rounded"``).
    """
    prob = _problem(pathset)
    demand = np.asarray(demand, dtype=float)
    c, a_ub = prob.objective, prob.link_rows(demand / (prob.utilisation_bound(demand) or 1.0))
    S = len(prob.slots)
    integrality = np.r_[np.ones(S), 0]
    options = {"mip_rel_gap": mip_rel_gap, "disp": False}
    if time_limit is not None:
        options["time_limit"] = time_limit
    res = milp(c, integrality=integrality, bounds=Bounds(np.zeros(S + 1), np.r_[np.ones(S), np.inf]),
               constraints=[LinearConstraint(a_ub, -np.inf, 0.0),
                            LinearConstraint(prob.a_eq, 1.0, 1.0)], options=options)
    if res.x is None:
        split = one_hot(path_lp(pathset, demand).split.argmax(axis=1), pathset.k)
        status = "lp-rounded"
    else:
        frac = prob.to_split(np.r_[res.x[:S], 0.0])
        split = one_hot(frac.argmax(axis=1), pathset.k)  # removes solver round-off
        status = "optimal" if res.status == 0 else "time-limit"
    mlu = float((sp.diags(prob.inv_cap) @ (pathset.incidence.T @ (demand[:, None] * split).ravel())).max())
    return PathOptimum(mlu, split, status)


@dataclass
class FlowOptimum:
    """Edge-form multicommodity-flow optimum: MLU and the link loads ``(L,)`` that achieve it."""

    mlu: float
    loads: np.ndarray
    status: str = "optimal"   # "time-limit": stopped before the optimum, mlu and loads are NaN


def mcf_lp(network: Network, tm: np.ndarray, time_limit: float | None = None) -> FlowOptimum:
    """Min-MLU multicommodity flow over all paths of the network (a true lower bound).

    ``time_limit`` (seconds): stop there; a point short of the optimum bounds nothing, so the
    result is then NaN with status ``"time-limit"``.

    One commodity per source (flows to all its destinations aggregated), which has the same
    optimum as one commodity per pair: any source-rooted flow decomposes into per-destination
    paths. Variables: ``f[s, l] >= 0`` and ``U``.
    """
    tm = np.asarray(tm, dtype=float).copy()
    np.fill_diagonal(tm, 0.0)
    N, L = network.n_nodes, network.n_links
    sources = np.flatnonzero(tm.sum(axis=1) > 0)
    if len(sources) == 0:
        return FlowOptimum(0.0, np.zeros(L))
    scale = network.capacity.max()  # work in units of the largest capacity for conditioning
    tm_scaled = tm / scale
    cap = network.capacity / scale
    S = len(sources)
    heads = np.array([v for _, v in network.links])
    tails = np.array([u for u, _ in network.links])
    # node-link incidence: +1 where the link leaves the node, -1 where it enters
    node_link = sp.csr_matrix((np.r_[np.ones(L), -np.ones(L)],
                               (np.r_[tails, heads], np.r_[np.arange(L), np.arange(L)])), shape=(N, L))
    a_eq = sp.hstack([sp.kron(sp.identity(S), node_link), sp.csr_matrix((S * N, 1))]).tocsr()
    supply = -tm_scaled[sources].copy()  # each destination absorbs its demand
    supply[np.arange(S), sources] = tm_scaled[sources].sum(axis=1)
    a_ub = sp.hstack([sp.kron(np.ones((1, S)), sp.identity(L)), -sp.csr_matrix(cap[:, None])]).tocsr()
    c = np.zeros(S * L + 1)
    c[-1] = 1.0
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(L), A_eq=a_eq, b_eq=supply.ravel(), bounds=(0, None),
                  method="highs", options={} if time_limit is None else {"time_limit": time_limit})
    if res.status == 1 and time_limit is not None:  # scipy's "iteration or time limit reached"
        return FlowOptimum(math.nan, np.full(L, math.nan), "time-limit")
    if res.status != 0:
        raise RuntimeError(f"multicommodity-flow LP failed: {res.message}")
    loads = res.x[:-1].reshape(S, L).sum(axis=0) * scale
    return FlowOptimum(float(res.x[-1]), loads)
