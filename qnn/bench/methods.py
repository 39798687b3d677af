"""The routing methods ``qroute bench`` compares, behind one pluggable registry.

A method is built by ``factory(pathset, network, options) -> method`` where ``options`` is a
dict (``checkpoint``: path from ``--checkpoint``, ``seed``, ``milp_every``,
``milp_time_limit``, ...). The method object has ``decide(ctx) -> decision``, called once
per scored matrix, in time order, with a :class:`DecisionContext`. A decision is one of

* a split ``np.ndarray (D, k)`` over the PathSet's candidate paths (one-hot = single path);
* a :class:`qnn.baselines.LinkRouting` (fraction of each demand per link: SPF, ECMP);
* :class:`LinkLoads` — loads for the visible matrix only (the MCF lower bound);
* ``None`` — "not scored at this step" (the single-path MILP runs on a subset).

A method may set ``oracle_only = True`` (a bound, not a controller): it then always sees the
scored matrix, also in the predictive setting, and the table marks it.

To add methods from another module, call :func:`register_method` at its import time and list
the module in ``LAZY_METHOD_MODULES`` below (one line); a module that fails to import is skipped
with a warning so the classical baselines keep working.
"""
from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from qnn.baselines import LinkRouting, ecmp_routing, shortest_path_routing
from qnn.lp import PathOptimum, mcf_lp, path_lp, robust_path_lp, single_path_milp
from qnn.network import Network
from qnn.paths import PathSet

# Modules that register more methods (the learned ones) when imported: imported when the
# registry is first asked for its methods, not with it (importing the registry loads no torch).
LAZY_METHOD_MODULES: list[str] = ["qnn.bench.learned_methods"]


@dataclass
class DecisionContext:
    """What a decision may look at; the bench builds one per scored matrix.

    t               index of the matrix the decision will be scored on
    setting         "oracle" (decide on matrix t) or "predictive" (decide on t-1, scored on t)
    visible_index   index of the newest matrix the decision may see (t or t-1)
    visible_tm      that matrix, ``(N, N)``
    visible_demand  the same as a demand vector over ``pathset.demands``, ``(D,)``
    history_tms     every matrix the decision may see, oldest first, ``(visible_index+1, N, N)``
    prev_split      this method's previous decision as a split ``(D, k)``, or None (first
                    decision, or a method that is not path-form)
    observed_loads  link loads ``(L,)`` that the previous decision produced on matrix t-1 —
                    what the controller's port counters measured last period; None at first
    network, pathset the network and its candidate paths
    """

    t: int
    setting: str
    visible_index: int
    visible_tm: np.ndarray
    visible_demand: np.ndarray
    history_tms: np.ndarray
    prev_split: np.ndarray | None
    observed_loads: np.ndarray | None
    network: Network
    pathset: PathSet


@dataclass
class LinkLoads:
    """A decision given only as link loads ``(L,)`` for the visible matrix (not re-appliable)."""

    loads: np.ndarray


class Method(Protocol):
    def decide(self, ctx: DecisionContext) -> np.ndarray | LinkRouting | LinkLoads | None: ...


Factory = Callable[[PathSet, Network, dict], Method]


@dataclass
class MethodInfo:
    name: str
    factory: Factory
    description: str


_REGISTRY: dict[str, MethodInfo] = {}
_lazy_modules_loaded = False


def register_method(name: str, factory: Factory, description: str = "") -> None:
    """Make ``name`` available to ``qroute bench --methods`` (re-registering replaces)."""
    _REGISTRY[name] = MethodInfo(name, factory, description)


def _load_lazy_method_modules() -> None:
    global _lazy_modules_loaded
    if _lazy_modules_loaded:
        return
    _lazy_modules_loaded = True
    for module in LAZY_METHOD_MODULES:
        try:
            importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 - a broken module must not take the baselines down
            warnings.warn(f"could not load routing methods from {module}: {err}", stacklevel=2)


def available_methods() -> dict[str, MethodInfo]:
    _load_lazy_method_modules()
    return dict(_REGISTRY)


def method_and_checkpoint(name: str) -> tuple[str, str | None]:
    """``METHOD@CHECKPOINT`` -> (METHOD, CHECKPOINT): a learned method run with its own
    checkpoint beside the same method on ``--checkpoint``'s (e.g. ``qnn-split`` and
    ``qnn-split@runs/qnn-geant-r6.pt`` in one table); a plain name -> (name, None)."""
    method, sep, checkpoint = name.partition("@")
    return method, (checkpoint if sep and checkpoint else None)


def is_method(name: str) -> bool:
    """Whether ``name`` (or the method of ``METHOD@CHECKPOINT``) is registered; plugins are
    imported only for names not built in (importing them pulls in torch, seconds that a
    baselines-only bench need not pay)."""
    name, _ = method_and_checkpoint(name)
    return name in _REGISTRY or name in available_methods()


def create_method(name: str, pathset: PathSet, network: Network,
                  options: dict[str, Any] | None = None) -> Method:
    if not is_method(name):
        raise KeyError(f"unknown method {name!r}; available: {', '.join(available_methods())}")
    method, checkpoint = method_and_checkpoint(name)
    options = dict(options or {})
    if checkpoint is not None:
        options["checkpoint"] = checkpoint
    return _REGISTRY[method].factory(pathset, network, options)


# ---------------------------------------------------------------- built-in baselines

class StaticRouting:
    """A routing that never changes (computed once): SPF and ECMP."""

    def __init__(self, routing: LinkRouting):
        self.routing = routing

    def decide(self, ctx: DecisionContext) -> LinkRouting:
        return self.routing


class PathLP:
    """LP-optimal split for the visible matrix (in the predictive setting that is matrix t-1)."""

    def decide(self, ctx: DecisionContext) -> np.ndarray:
        return path_lp(ctx.pathset, ctx.visible_demand).split


class StaleLP:
    """LP solved on the matrix before the scored one, applied to the scored one (both settings)."""

    def decide(self, ctx: DecisionContext) -> np.ndarray | None:
        if ctx.t < 1:
            return None
        return path_lp(ctx.pathset, ctx.pathset.demand_vector(ctx.history_tms[ctx.t - 1])).split


class RobustLP:
    """One split for the last ``window`` visible matrices: the LP that minimises the worst of
    their MLU ratios (each matrix's MLU over its own LP optimum). A classical hedge against the
    traffic changing before the split is scored; ``window=1`` is the LP on the visible matrix."""

    def __init__(self, window: int):
        if window < 1:
            raise ValueError("robust_window must be at least 1")
        self.window = window
        self._optimum: dict[int, PathOptimum] = {}  # matrix index -> its LP optimum (each solved once)

    def decide(self, ctx: DecisionContext) -> np.ndarray:
        first = max(0, ctx.visible_index - self.window + 1)
        indices = range(first, ctx.visible_index + 1)
        demands = ctx.pathset.demand_vector(ctx.history_tms[first:ctx.visible_index + 1])
        for i, d in zip(indices, demands):
            if i not in self._optimum:
                self._optimum[i] = path_lp(ctx.pathset, d)
        scale = np.array([self._optimum[i].mlu for i in indices])
        if np.any(scale <= 0):  # an empty matrix: nothing to hedge against
            return self._optimum[ctx.visible_index].split
        return robust_path_lp(ctx.pathset, demands, scale).split


class SinglePathMILP:
    """Single-path optimum on the visible matrix, only every ``milp_every``-th step (cost)."""

    def __init__(self, every: int, time_limit: float, gap: float):
        self.every, self.time_limit, self.gap = every, time_limit, gap
        self.statuses: dict[str, int] = {}  # how each solve ended: optimal / time-limit / lp-rounded

    def decide(self, ctx: DecisionContext) -> np.ndarray | None:
        if ctx.t % self.every:
            return None
        found = single_path_milp(ctx.pathset, ctx.visible_demand, self.time_limit, self.gap)
        self.statuses[found.status] = self.statuses.get(found.status, 0) + 1
        return found.split


MCF_TIME_LIMIT_S = 60.0  # seconds per multicommodity-flow solve


class MCFBound:
    """Edge-form multicommodity-flow optimum: the lower bound over all paths, not a controller.
    A solve stopped at ``time_limit`` seconds bounds nothing: that matrix is not scored, and
    ``statuses`` counts it (on a 150-node network one solve takes many minutes)."""

    oracle_only = True

    def __init__(self, time_limit: float | None):
        self.time_limit = time_limit
        self.statuses: dict[str, int] = {}

    def decide(self, ctx: DecisionContext) -> LinkLoads | None:
        found = mcf_lp(ctx.network, ctx.visible_tm, self.time_limit)
        self.statuses[found.status] = self.statuses.get(found.status, 0) + 1
        return LinkLoads(found.loads) if found.status == "optimal" else None


register_method("spf", lambda ps, net, o: StaticRouting(shortest_path_routing(net, ps.demands, "weight")),
                "shortest path by OSPF weight, one path per flow")
register_method("spf-hops", lambda ps, net, o: StaticRouting(shortest_path_routing(net, ps.demands, "hops")),
                "shortest path by hop count, one path per flow")
register_method("ecmp", lambda ps, net, o: StaticRouting(ecmp_routing(net, ps.demands)),
                "hop-by-hop equal-cost multipath on OSPF weights")
register_method("lp", lambda ps, net, o: PathLP(), "path-form LP optimum (splittable) on the visible matrix")
register_method("stale-lp", lambda ps, net, o: StaleLP(), "path LP solved on the previous matrix")
register_method("robust-lp", lambda ps, net, o: RobustLP(int(o.get("robust_window", 12))),
                "one LP split minimising the worst MLU ratio over the last robust_window visible matrices")
register_method("milp", lambda ps, net, o: SinglePathMILP(int(o.get("milp_every", 8)),
                                                          float(o.get("milp_time_limit", 2.0)),
                                                          float(o.get("milp_gap", 1e-3))),
                "single-path optimum (MILP) on the visible matrix, every milp_every-th matrix")
register_method("mcf", lambda ps, net, o: MCFBound(float(o.get("mcf_time_limit", MCF_TIME_LIMIT_S))),
                "edge-form multicommodity-flow LP: lower bound (oracle)")

DEFAULT_METHODS = ["spf", "spf-hops", "ecmp", "lp", "stale-lp", "robust-lp", "milp", "mcf"]
