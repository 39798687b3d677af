"""Decision time against flow count: the QNN router (fused and gate-by-gate), the MLP, the path LP.

Flows are GEANT's 462 origin-destination demands replicated (many flows per pair, each with the
pair's 3 tunnels) and given random volumes, so every flow count runs on the same 72-link network.
One decision = all coordination rounds for all flows of one matrix, from demand vector to split,
without autograd. Run: ``qroute speed --checkpoint qnn-geant [--device cpu]``.
"""
from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import numpy as np
import torch

from qnn.argtypes import comma_list, nonnegative_int, positive_int
from qnn.tables import markdown_table


def replicated_pathset(base, n_flows: int):
    from qnn.paths import PathSet

    D = base.n_demands
    idx = [i % D for i in range(n_flows)]
    return PathSet(base.network, [base.demands[i] for i in idx],
                   [[p for p, m in zip(base.paths[i], base.mask[i]) if m] for i in idx], base.k)


def _time(fn, repeat: int) -> float:
    fn()  # warm-up (caches, allocator)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000.0


def _device_path(core, x):
    """The core's logits through TorchQuantum's gate-by-gate device simulation."""
    return core.readout(core.expval_z(x, "device"))


def measure(router, mlp, base, flow_counts, device="cpu", repeat=5, lp_max_flows=5000, device_path_max=2000,
            seed=0):
    from qnn.lp import path_lp
    from qnn.models.router import PathTensors

    rng = np.random.default_rng(seed)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def synced(repeats, fn, *args, **kwargs):  # a GPU's work counts when it is done, not queued
        return _time(lambda: (fn(*args, **kwargs), sync()), repeats)

    rows = []
    for n in flow_counts:
        ps = replicated_pathset(base, n)
        pt = PathTensors(ps, device=device)
        d = torch.as_tensor(rng.gamma(1.0, 1e8, size=(1, n)), dtype=torch.float32, device=device)
        row = {"flows": n}
        with torch.no_grad():
            row["qnn_ms"] = synced(repeat, router, pt, d)
            if mlp is not None:
                row["mlp_ms"] = synced(repeat, mlp, pt, d)
            if n <= device_path_max:
                row["qnn_gate_by_gate_ms"] = synced(max(1, repeat // 2), router, pt, d,
                                                    core_fn=partial(_device_path, router.core))
        if n <= lp_max_flows:
            row["lp_ms"] = _time(partial(path_lp, ps, d[0].cpu().numpy().astype(float)), max(1, repeat // 2))
        rows.append(row)
    return rows


def static_mode_check(core, n_flows: int = 462, seed: int = 0, repeat: int = 3) -> dict:
    """TorchQuantum's static mode on the gate-by-gate path, for one round of ``n_flows``: its
    time and its largest error in <Z> against the ordinary (dynamic) execution."""
    import copy

    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n_flows, core.k, core.n_features, generator=gen)
    with torch.no_grad():
        dynamic_ms = _time(lambda: core.expval_z(x, "device"), repeat)
        reference = core.expval_z(x, "device")
        static = copy.deepcopy(core)
        static.static_on(wires_per_block=core.n_wires)
        static_ms = _time(lambda: static.expval_z(x, "device"), repeat)
        error = float((static.expval_z(x, "device") - reference).abs().max())
    return {"flows": n_flows, "dynamic_ms": dynamic_ms, "static_ms": static_ms, "max_abs_error": error}


def host_join_times(checkpoint: str, network, repeat: int = 5, seed: int = 0) -> dict:
    """The controller's decision (:class:`controller.demand_policies.LearnedPolicy`) on ``network`` with
    a host on every switch, in ms: ``cold`` searches every pair's candidate paths (first decision,
    or after a topology change), ``join`` after a host appears on the one switch that had none
    (only the new pairs are searched), ``steady`` the same flows again (paths cached)."""
    import networkx as nx

    from controller.demand_policies import LearnedPolicy

    graph = nx.DiGraph()
    for (u, v), capacity, weight in zip(network.links, network.capacity, network.weight):
        graph.add_edge(u, v, capacity=float(capacity), ospf=float(weight))
    nodes = sorted(graph.nodes)
    everyone = {(a, b): (a, b) for a in nodes for b in nodes if a != b}
    before = {flow: pair for flow, pair in everyone.items() if nodes[-1] not in pair}
    rng = np.random.default_rng(seed)
    rates = {flow: float(rate) for flow, rate in zip(everyone, rng.gamma(1.0, 1e6, len(everyone)))}

    def timed(warm_flows) -> float:
        runs = []
        for _ in range(repeat):
            policy = LearnedPolicy(checkpoint)
            if warm_flows:
                policy.decide(graph, warm_flows, {}, rates)
            start = time.perf_counter()
            policy.decide(graph, everyone, {}, rates)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs) * 1000.0

    steady_policy = LearnedPolicy(checkpoint)
    steady_policy.decide(graph, everyone, {}, rates)
    return {"switches": len(nodes), "pairs": len(everyone), "new_pairs": len(everyone) - len(before),
            "cold_ms": timed(None), "join_ms": timed(before),
            "steady_ms": _time(lambda: steady_policy.decide(graph, everyone, {}, rates), repeat)}


def format_rows(rows) -> str:
    cols = ["flows", "qnn_ms", "qnn_gate_by_gate_ms", "mlp_ms", "lp_ms"]
    header = ("flows", "QNN fused (ms)", "QNN gate-by-gate (ms)", "MLP (ms)", "path LP (ms)")
    cells = [[f"{r[c]:.1f}" if isinstance(r.get(c), float) else str(r.get(c, "—")) for c in cols]
             for r in rows]
    return markdown_table(header, cells, "r" * len(cols), tight_rule=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default="qnn-geant",
                   help="the QNN timed (shipped name or .pt; default qnn-geant)")
    p.add_argument("--mlp-checkpoint", default="mlp-geant", help="the MLP timed beside it ('': none)")
    p.add_argument("--join-checkpoint", default="qnn-abilene-single",
                   help="the controller's checkpoint for the host-join timing")
    p.add_argument("--flows", type=comma_list(positive_int), default="100,462,1000,2500,5000,10000,25000",
                   help="comma-separated flow counts")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:0, ...)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p.add_argument("--repeat", type=positive_int, default=7,
                   help="timed runs per figure (the median is shown)")
    p.add_argument("--lp-max-flows", type=nonnegative_int, default=25000,
                   help="time the path LP only up to this many flows")


def run(args: argparse.Namespace) -> int:
    from qnn.models.checkpoint import load_checkpoint
    from qnn.models.dataset import load_dataset
    from topologies.abilene import load_abilene

    if args.threads:
        torch.set_num_threads(args.threads)
    router, _ = load_checkpoint(args.checkpoint, device=args.device)
    mlp = load_checkpoint(args.mlp_checkpoint, device=args.device)[0] if args.mlp_checkpoint else None
    base = load_dataset("geant", k=router.k).pathset
    rows = measure(router, mlp, base, args.flows, args.device, args.repeat, args.lp_max_flows)
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, rounds {router.n_rounds}")
    print(format_rows(rows))
    for name, network in (("Abilene", load_abilene()), ("GEANT", base.network)):
        join = host_join_times(args.join_checkpoint, network, repeat=args.repeat)
        print(f"controller decision ({args.join_checkpoint}), {name}, a host on each of "
              f"{join['switches']} switches, {join['pairs']} pairs: {join['cold_ms']:.1f} ms searching "
              f"every pair's paths, {join['join_ms']:.1f} ms when a host joins the last switch "
              f"({join['new_pairs']} new pairs searched), {join['steady_ms']:.1f} ms with all paths cached")
    check = static_mode_check(router.core)
    print(f"TorchQuantum static mode, gate-by-gate path, one round of {check['flows']} flows: "
          f"{check['static_ms']:.1f} ms vs {check['dynamic_ms']:.1f} ms dynamic, largest <Z> error "
          f"{check['max_abs_error']:.3g} ({'usable' if check['max_abs_error'] < 1e-4 else 'NOT usable'})")
    return 0
