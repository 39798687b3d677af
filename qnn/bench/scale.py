"""Decision time against number of flows, for every baseline, on a large topohub graph.

    qroute scale --out BENCH_DIR [--topology gabriel/175/0] [--sizes 100,...,25000]

Demands are nested random subsets of all ordered node pairs (seeded); traffic is the gravity
model restricted to those pairs. Candidate paths (k shortest by weight) are computed once for
the largest set, on every core, and shared by the smaller sets; their cost is reported apart
from decision time because a controller computes them only when the topology changes.
Methods whose solve time explodes are run only up to a stated number of flows (see
``--milp-max-flows`` and ``--mcf-max-flows``) and reported as skipped above it.
Writes ``scale.json`` and ``scale.png`` into the output directory.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import time

import numpy as np

from qnn.argtypes import comma_list, nonnegative_int, positive_float, positive_int, writable_folder
from qnn.bench.methods import DecisionContext, create_method
from qnn.loads import link_loads, mlu
from qnn.paths import PathSet, all_pairs, candidate_paths
from qnn.tables import markdown_table

DEFAULT_SIZES = (100, 300, 1000, 3000, 10000, 25000)
STATIC_METHODS = ("spf", "spf-hops", "ecmp")
# the registry's methods timed here, and the evaluation of a split's MLU (what every method's
# score costs)
METHODS = (*STATIC_METHODS, "lp", "stale-lp", "milp", "mcf", "link-loads-eval")


def _paths_chunk(args):
    network, k, demands = args
    return candidate_paths(network, k, demands=demands)


def parallel_candidate_paths(network, demands, k: int, processes: int) -> list:
    """k shortest paths for every demand, split over ``processes`` worker processes."""
    if processes <= 1:
        return candidate_paths(network, k, demands=demands)
    chunks = np.array_split(np.arange(len(demands)), processes * 4)
    jobs = [(network, k, [demands[i] for i in chunk]) for chunk in chunks if len(chunk)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_paths_chunk, jobs)
    return [slot for part in parts for slot in part]


def _context(network, pathset, tms, demand, t: int) -> DecisionContext:
    """A decision on matrix ``t`` that sees it (the oracle setting)."""
    return DecisionContext(t=t, setting="oracle", visible_index=t, visible_tm=tms[t],
                           visible_demand=demand[t], history_tms=tms[:t + 1], prev_split=None,
                           observed_loads=None, network=network, pathset=pathset)


def _split_mlu(ps, demands, split, capacity) -> float:
    """What the scale bench times as evaluating one split: its link loads and their MLU."""
    return mlu(link_loads(ps, demands, split), capacity)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, 1e3 * (time.perf_counter() - start)


def run_scale_bench(topology: str, sizes, k: int, seed: int, repeats: int, milp_max_flows: int,
                    milp_time_limit: float, mcf_max_flows: int, processes: int, log=print) -> dict:
    from topologies.traffic import gravity_traffic
    from topologies.zoo import load_topohub

    network = load_topohub(topology)
    pairs = all_pairs(network)
    sizes = sorted(s for s in sizes if s <= len(pairs))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs))[: max(sizes)]
    demands = [pairs[i] for i in order]
    start = time.perf_counter()
    paths = parallel_candidate_paths(network, demands, k, processes)
    paths_s = time.perf_counter() - start
    log(f"{network.name}: {network.n_nodes} nodes, {network.n_links} links; {k} shortest paths for "
        f"{len(demands)} demands in {paths_s:.1f} s on {processes} process(es)")
    results = {m: {"flows": [], "decision_ms_mean": [], "decision_ms_max": [], "skipped": {}}
               for m in METHODS}

    def record(method, n, times):
        r = results[method]
        r["flows"].append(n)
        r["decision_ms_mean"].append(float(np.mean(times)))
        r["decision_ms_max"].append(float(np.max(times)))

    for n in sizes:
        ps = PathSet(network, demands[:n], paths[:n], k)
        tms = gravity_traffic(network, repeats + 1, seed=seed + n, pairs=demands[:n])
        dv = ps.demand_vector(tms)
        for method in STATIC_METHODS:  # their decision is the routing their factory computes
            _, ms = _timed(create_method, method, ps, network)
            record(method, n, [ms])
        lp = create_method("lp", ps, network)
        # decided on matrices 0..R: lp scores on 1..R; stale-lp's decision on matrix t is the
        # same LP, solved one matrix earlier, so it is timed by the solves on 0..R-1
        lp_times = [_timed(lp.decide, _context(network, ps, tms, dv, t))[1] for t in range(repeats + 1)]
        record("lp", n, lp_times[1:])
        record("stale-lp", n, lp_times[:-1])
        split = ps.uniform_split()
        eval_times = [_timed(_split_mlu, ps, dv[t], split, network.capacity)[1] for t in range(repeats)]
        record("link-loads-eval", n, eval_times)
        if n <= milp_max_flows:
            milp = create_method("milp", ps, network, {"milp_every": 1, "milp_time_limit": milp_time_limit})
            times, statuses = [], []
            for t in range(1, repeats + 1):
                before = dict(milp.statuses)
                times.append(_timed(milp.decide, _context(network, ps, tms, dv, t))[1])
                statuses.extend(status for status, count in milp.statuses.items()
                                if count > before.get(status, 0))
            record("milp", n, times)
            results["milp"].setdefault("status", {})[str(n)] = statuses
        else:
            results["milp"]["skipped"][str(n)] = f"above --milp-max-flows {milp_max_flows}"
        if n <= mcf_max_flows:
            mcf = create_method("mcf", ps, network)
            record("mcf", n, [_timed(mcf.decide, _context(network, ps, tms, dv, 1))[1]])
        else:
            results["mcf"]["skipped"][str(n)] = f"above --mcf-max-flows {mcf_max_flows}"
        log(f"{n:6d} flows: " + ", ".join(f"{m} {results[m]['decision_ms_mean'][-1]:.1f} ms" for m in METHODS
                                          if results[m]["flows"] and results[m]["flows"][-1] == n))
    return {"topology": network.name, "n_nodes": network.n_nodes, "n_links": network.n_links, "k": k,
            "seed": seed, "repeats": repeats, "sizes": sizes, "paths_s": paths_s, "processes": processes,
            "milp_time_limit_s": milp_time_limit, "methods": results}


def plot_scale(doc: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, r in doc["methods"].items():
        if r["flows"]:
            ax.loglog(r["flows"], r["decision_ms_mean"], "o-", label=name)
    ax.set_xlabel("flows (demands)")
    ax.set_ylabel("decision time per matrix (ms)")
    ax.set_title(f"{doc['topology']} ({doc['n_nodes']} nodes, {doc['n_links']} links), k={doc['k']}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_scale_table(doc: dict) -> str:
    sizes = doc["sizes"]
    rows = [[name, *(f"{r['decision_ms_mean'][r['flows'].index(s)]:.1f}" if s in r["flows"] else "skipped"
                     for s in sizes)]
            for name, r in doc["methods"].items()]
    return markdown_table(["method", *(f"{s} flows" for s in sizes)], rows, "l" + "r" * len(sizes))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output directory (scale.json, scale.png)")
    p.add_argument("--topology", default="gabriel/175/0",
                   help="topohub key (default gabriel/175/0: 30,450 pairs)")
    p.add_argument("--sizes", type=comma_list(positive_int), default=",".join(map(str, DEFAULT_SIZES)),
                   help="comma-separated flow counts (sizes above the number of node pairs are left out)")
    p.add_argument("--k", type=positive_int, default=3, help="candidate paths per demand")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--repeats", type=positive_int, default=2, help="matrices timed per size and method")
    p.add_argument("--milp-max-flows", type=nonnegative_int, default=25000)
    p.add_argument("--milp-time-limit", type=positive_float, default=20.0, help="seconds per MILP solve")
    p.add_argument("--mcf-max-flows", type=nonnegative_int, default=100)
    p.add_argument("--processes", type=positive_int, default=os.cpu_count() or 1, help="for candidate paths")


def run(args: argparse.Namespace) -> int:
    writable_folder(args.out, "out")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = run_scale_bench(args.topology, args.sizes, args.k, args.seed, args.repeats,
                          args.milp_max_flows, args.milp_time_limit, args.mcf_max_flows, args.processes)
    (out / "scale.json").write_text(json.dumps(doc, indent=2) + "\n")
    plot_scale(doc, out / "scale.png")
    print(format_scale_table(doc))
    print(f"wrote {out / 'scale.json'} and {out / 'scale.png'}")
    return 0
