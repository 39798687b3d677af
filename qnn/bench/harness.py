"""Score routing methods over a sequence of traffic matrices (the engine behind ``qroute bench``).

Every method is scored on matrices 1..T-1 in both settings (matrix 0 only serves as history,
so stale LP and predictive methods have something to see and all rows cover the same matrices).
The MLU ratio divides a method's MLU by the path-form LP optimum of the scored matrix.
"""
from __future__ import annotations

import json
import math
import pathlib
import time
from dataclasses import dataclass, field

import numpy as np

from qnn.baselines import LinkRouting
from qnn.loads import churn, link_loads, mlu, stretch
from qnn.lp import path_lp
from qnn.bench.methods import DecisionContext, LinkLoads, create_method
from qnn.network import Network
from qnn.paths import PathSet
from qnn.summary import ratio_summary
from qnn.tables import markdown_table

SETTINGS = ("oracle", "predictive")


@dataclass
class MethodTrace:
    """Per-step results of one method (NaN where a step was not scored)."""

    name: str
    oracle_only: bool = False
    mlu: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    stretch: list[float] = field(default_factory=list)
    churn: list[float] = field(default_factory=list)
    decision_ms: list[float] = field(default_factory=list)
    setup_ms: float = 0.0      # building the method (SPF/ECMP compute their static routing here)


@dataclass
class BenchResult:
    topology: str
    setting: str
    steps: np.ndarray          # indices of the scored matrices
    optimum: np.ndarray        # path-LP optimum MLU per scored matrix
    traces: dict[str, MethodTrace]
    method_objects: dict[str, object] = field(default_factory=dict)   # not serialised

    def summary(self) -> dict:
        """The JSON document: per-method MLU ratio quantiles, stretch, churn, decision time."""
        methods = {}
        for name, tr in self.traces.items():
            r = np.array(tr.ratio, dtype=float)
            ratios = ratio_summary(r[np.isfinite(r)])  # NaN: a step not scored
            ms = np.array(tr.decision_ms, dtype=float)
            methods[name] = {
                "mlu_ratio": {key: _num(ratios[key]) for key in ("mean", "p50", "p90", "p99", "max")},
                "stretch_mean": _num(np.nanmean(tr.stretch) if np.isfinite(tr.stretch).any() else math.nan),
                "churn_mean": _num(np.nanmean(tr.churn) if np.isfinite(tr.churn).any() else math.nan),
                "decision_ms": {"mean": _num(ms.mean() if ms.size else math.nan),
                                "p90": _num(np.percentile(ms, 90) if ms.size else math.nan)},
                "n_scored": ratios["n"],
                "setup_ms": _num(tr.setup_ms),
            }
            if tr.oracle_only:
                methods[name]["oracle_only"] = True
            method = self.method_objects.get(name)
            trained_on = getattr(method, "trained_on", None)
            if trained_on is not None:  # a learned method: which network its checkpoint learned on
                methods[name]["checkpoint"] = str(getattr(method, "checkpoint", ""))
                methods[name]["checkpoint_trained_on"] = trained_on
                methods[name]["checkpoint_transferred"] = bool(getattr(method, "transferred", False))
            n_params = getattr(method, "n_params", None)
            if n_params is not None:  # a learned method: its trainable parameters
                methods[name]["n_params"] = int(n_params)
            statuses = getattr(method, "statuses", None)
            if statuses:  # e.g. MILP solves that stopped at the time limit are not optima
                methods[name]["solver_status"] = dict(sorted(statuses.items()))
            time_limit = getattr(method, "time_limit", None)
            if time_limit is not None:
                methods[name]["time_limit_s"] = _num(time_limit)
        return {"topology": self.topology, "setting": self.setting, "n_matrices": int(len(self.steps)),
                "methods": methods}


def _num(x) -> float | None:
    """JSON has no NaN: missing figures (stretch of a bound, say) become null."""
    x = float(x)
    return x if math.isfinite(x) else None


def _routing_churn(prev: LinkRouting, cur: LinkRouting) -> float:
    """Fraction of flows whose link routing changed (0 for a static routing)."""
    if prev is cur:
        return 0.0
    diff = abs(cur.fractions - prev.fractions)
    return float((np.asarray(diff.max(axis=1).todense()).ravel() > 1e-9).mean())


def run_bench(network: Network, pathset: PathSet, tms: np.ndarray, methods: list[str],
              setting: str = "oracle", options: dict | None = None, progress: bool = True) -> BenchResult:
    """Decide and score every method on matrices 1..T-1 of ``tms`` ``(T, N, N)``."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, not {setting!r}")
    # Read-only: no method may alter the matrices every method is scored on.
    tms = np.array(tms, dtype=float)
    tms.flags.writeable = False
    if len(tms) < 2:
        raise ValueError("need at least 2 traffic matrices (the first one is history only)")
    pathset.check_covers(tms)
    demand = pathset.demand_vector(tms)
    steps = np.arange(1, len(tms))
    _warm_up(network)
    objs, traces = {}, {}
    for name in methods:
        start = time.perf_counter()
        objs[name] = create_method(name, pathset, network, {**(options or {}), "setting": setting})
        traces[name] = MethodTrace(name, bool(getattr(objs[name], "oracle_only", False)),
                                   setup_ms=1e3 * (time.perf_counter() - start))
    prev_decision: dict[str, object] = {name: None for name in methods}
    optimum = np.empty(len(steps))
    iterator = steps
    if progress:
        from tqdm import tqdm

        iterator = tqdm(steps, desc=f"{network.name} {setting}", unit="TM", leave=False)
    # on a large network one step takes minutes: the bar names the method deciding
    show = (lambda text: iterator.set_postfix_str(text, refresh=False)) if progress else (lambda text: None)
    shortest = pathset.shortest_hops
    for i, t in enumerate(iterator):
        show("path-LP optimum")
        optimum[i] = path_lp(pathset, demand[t]).mlu
        for name, method in objs.items():
            show(name)
            tr = traces[name]
            v = t if (setting == "oracle" or tr.oracle_only) else t - 1
            prev = prev_decision[name]
            prev_split = prev if isinstance(prev, np.ndarray) else None
            observed = (_loads_of(prev, pathset, demand[t - 1])
                        if prev is not None and not isinstance(prev, LinkLoads) else None)
            ctx = DecisionContext(t=int(t), setting=setting, visible_index=int(v), visible_tm=tms[v],
                                  visible_demand=demand[v], history_tms=tms[: v + 1], prev_split=prev_split,
                                  observed_loads=observed, network=network, pathset=pathset)
            start = time.perf_counter()
            decision = method.decide(ctx)
            elapsed_ms = 1e3 * (time.perf_counter() - start)
            if decision is None:
                for series in (tr.mlu, tr.ratio, tr.stretch, tr.churn):
                    series.append(math.nan)
                continue
            tr.decision_ms.append(elapsed_ms)
            loads = _loads_of(decision, pathset, demand[t])
            value = float(mlu(loads, network.capacity))
            tr.mlu.append(value)
            tr.ratio.append(value / optimum[i] if optimum[i] > 0 else math.nan)
            # churn needs a previous decision: the first one moves nothing and is not averaged in
            if isinstance(decision, np.ndarray):
                tr.stretch.append(float(np.nanmean(stretch(pathset, decision))))
                tr.churn.append(churn(prev_split, decision) if prev_split is not None else math.nan)
            elif isinstance(decision, LinkRouting):
                tr.stretch.append(float(np.nanmean(decision.expected_hops() / shortest)))
                tr.churn.append(_routing_churn(prev, decision) if isinstance(prev, LinkRouting) else math.nan)
            else:
                tr.stretch.append(math.nan)
                tr.churn.append(math.nan)
            prev_decision[name] = decision
    return BenchResult(network.name, setting, steps, optimum, traces, objs)


def _warm_up(network: Network) -> None:
    """Run networkx once untimed: its first call loads backends (seconds), which is not routing."""
    import networkx as nx

    nx.single_source_dijkstra_path(network.graph(), network.nodes[0], weight="weight")


def _loads_of(decision, pathset: PathSet, demand: np.ndarray) -> np.ndarray:
    if isinstance(decision, np.ndarray):
        return link_loads(pathset, demand, decision)[0]
    if isinstance(decision, LinkRouting):
        return decision.loads(demand)[0]
    if isinstance(decision, LinkLoads):
        return np.asarray(decision.loads)
    raise TypeError(f"a decision must be a split array, LinkRouting, LinkLoads or None, "
                    f"not {type(decision).__name__}")


def format_table(summary: dict) -> str:
    """A plain-text (also Markdown) table of a :meth:`BenchResult.summary`."""
    header = ("method", "MLU/opt mean", "p50", "p90", "p99", "max", "stretch", "churn", "ms mean", "ms p90",
              "setup ms", "n", "params")
    rows = []
    for name, m in summary["methods"].items():
        r, ms = m["mlu_ratio"], m["decision_ms"]
        label = name + (" (bound, oracle)" if m.get("oracle_only") else "")
        if m.get("checkpoint_transferred"):  # transfer is never silent
            label += f" (trained on {m['checkpoint_trained_on']})"
        unproven = sum(n for status, n in m.get("solver_status", {}).items() if status != "optimal")
        if unproven:
            rounded = m["solver_status"].get("lp-rounded", 0)
            detail = (f", {rounded} LP-rounded: no integer solution within the "
                      f"{_limit(m.get('time_limit_s'))} limit" if rounded else "")
            label += f" ({unproven} of {sum(m['solver_status'].values())} solves not proven optimal{detail})"
        rows.append([label, *(_f(r[key]) for key in ("mean", "p50", "p90", "p99", "max")),
                     _f(m["stretch_mean"]), _f(m["churn_mean"]), _f(ms["mean"], 2), _f(ms["p90"], 2),
                     _f(m["setup_ms"], 1), m["n_scored"], _count(m.get("n_params"))])
    return markdown_table(header, rows, "l" + "r" * (len(header) - 1))


def _count(n) -> str:
    """A parameter count (– for a method that learns none)."""
    return "–" if n is None else f"{n:,}"


def _limit(seconds) -> str:
    return "time" if seconds is None else f"{seconds:g} s"


def _f(x, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def write_json(summary: dict, path) -> None:
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")


def plot_suffixes() -> tuple[str, ...]:
    """File endings the plot can be saved as (matplotlib's Agg canvas: png, pdf, svg, ...)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return tuple(f".{ext}" for ext in FigureCanvasAgg.get_supported_filetypes())


def plot_mlu(result: BenchResult, path) -> None:
    """MLU over time per method (top) and its ratio to the path-LP optimum (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_mlu, ax_ratio) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    ax_mlu.plot(result.steps, result.optimum, color="black", lw=1.2, label="path-LP optimum")
    for name, tr in result.traces.items():
        y, r = np.array(tr.mlu), np.array(tr.ratio)
        style = "o" if np.isnan(y).mean() > 0.5 else "-"  # sparse (subset) methods as dots
        ax_mlu.plot(result.steps, y, style, lw=0.8, ms=3, label=name)
        ax_ratio.plot(result.steps, r, style, lw=0.8, ms=3, label=name)
    ax_mlu.set_ylabel("max link utilisation")
    ax_ratio.set_ylabel("MLU / path-LP optimum")
    ax_ratio.set_xlabel("traffic matrix index")
    ax_mlu.set_title(f"{result.topology}, {result.setting} setting")
    ax_mlu.legend(fontsize=8, ncol=4)
    for ax in (ax_mlu, ax_ratio):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
