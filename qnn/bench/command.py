"""``qroute bench``: compare routing methods on a sequence of traffic matrices."""
from __future__ import annotations

import argparse
import sys

from qnn.argtypes import at_least, nonnegative_int, positive_float, positive_int, writable_output


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", required=True,
                   help="abilene, geant, a topohub name (germany50, topozoo/Abilene, ...), or a topology "
                        "file: node-link JSON, GraphML, GML, SNDlib native or XML (docs/topology-files.md)")
    p.add_argument("--tms",
                   help="traffic matrices, one flattened N x N matrix a line, rows and columns in the node "
                        "index order (default: the topology's data; for a file, synthetic)")
    p.add_argument("--tunnels", metavar="FILE",
                   help="candidate paths, 'src dst:a-b-c,a-d-c,...' a line in the topology's own node ids "
                        "(default: k shortest paths, see --paths)")
    p.add_argument("--capacity-rule", choices=("uniform", "degree"), default="uniform",
                   help="links without a capacity (topohub graphs, topology files): 10 Gbit/s each "
                        "(default) or by degree")
    p.add_argument("--setting", choices=["oracle", "predictive"], default="oracle",
                   help="oracle: decide on the scored matrix; predictive: decide on the one before")
    p.add_argument("--methods", default=None,
                   help="comma-separated method names (default: all classical baselines; see "
                        "--list-methods); METHOD@CHECKPOINT runs a learned method on its own "
                        "checkpoint, beside the same method on --checkpoint's")
    p.add_argument("--list-methods", action="store_true", help="print the registered methods and exit")
    p.add_argument("--json", metavar="OUT", help="write the summary as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="plot MLU over time per method")
    p.add_argument("--checkpoint", help="model checkpoint, passed to learned methods")
    p.add_argument("--k", type=positive_int, default=3, help="candidate paths per demand (default 3)")
    p.add_argument("--paths", default="weight", choices=["weight", "hops", "disjoint", "tunnels"],
                   help="candidate paths: k shortest by OSPF weight (default; GEANT: its tunnels), "
                        "by hops, edge-disjoint")
    p.add_argument("--scale", type=positive_float, default=None,
                   help="multiply every matrix (default: abilene x8, others x1)")
    p.add_argument("--start", type=nonnegative_int, default=0, help="first matrix to use")
    p.add_argument("--limit", type=at_least(2), default=None, help="use at most this many matrices")
    p.add_argument("--milp-every", type=positive_int, default=8,
                   help="single-path MILP on every n-th matrix only (default 8)")
    p.add_argument("--milp-time-limit", type=positive_float, default=2.0,
                   help="seconds per MILP solve (default 2)")
    p.add_argument("--robust-window", type=positive_int, default=12,
                   help="robust-lp: hedge over this many latest visible matrices (default 12)")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed for synthetic traffic and learned methods")
    p.add_argument("--n-synthetic", type=at_least(2), default=200,
                   help="synthetic matrices for topohub graphs and topology files without --tms")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from qnn.bench.harness import format_table, plot_mlu, plot_suffixes, run_bench, write_json
    from qnn.bench.methods import DEFAULT_METHODS, available_methods, is_method

    if args.list_methods:
        for name, info in available_methods().items():
            print(f"{name:12s} {info.description}")
        return 0
    from qnn.bench.scenario import load_scenario

    methods = ([m.strip() for m in args.methods.split(",") if m.strip()] if args.methods
               else list(DEFAULT_METHODS))
    problems = []
    if not methods:
        problems.append("--methods names no method (see --list-methods)")
    unknown = [m for m in methods if not is_method(m)]
    if unknown:
        problems.append(f"unknown method(s) {', '.join(unknown)}; "
                        f"available: {', '.join(available_methods())}")
    for option in ("json", "plot"):
        if getattr(args, option):
            try:
                writable_output(getattr(args, option), option,
                                (".json",) if option == "json" else plot_suffixes())
            except ValueError as error:
                problems.append(str(error))
    if problems:
        raise ValueError("; ".join(problems))
    scenario = load_scenario(args.topology, args.tms, k=args.k, paths=args.paths, scale=args.scale,
                             n_synthetic=args.n_synthetic, seed=args.seed, tunnels=args.tunnels,
                             capacity_rule=args.capacity_rule)
    if scenario.topology_file is not None:
        print(scenario.topology_file.summary())
        print(f"  candidate paths: {scenario.path_rule}")
    tms = scenario.tms[args.start:]
    if args.limit is not None:
        tms = tms[: args.limit]
    if len(tms) >= 2 and not tms[1:].any():
        raise ValueError(f"{scenario.traffic_source}: none of the {len(tms) - 1} matrices to score carries "
                         f"traffic (the first one is history only)")
    options = {"checkpoint": args.checkpoint, "seed": args.seed, "milp_every": args.milp_every,
               "milp_time_limit": args.milp_time_limit, "robust_window": args.robust_window}
    result = run_bench(scenario.network, scenario.pathset, tms, methods, args.setting, options,
                       progress=not args.no_progress)
    summary = result.summary()
    _flag_training_overlap(result, summary, scenario.traffic_file, first_row=args.start)
    print(f"{scenario.network.name}, {args.setting} setting: {summary['n_matrices']} matrices scored "
          f"({scenario.traffic_source}, x{scenario.scale:g}), {scenario.pathset.n_demands} demands, "
          f"k={scenario.pathset.k}; MLU ratio = MLU / path-LP optimum")
    print(format_table(summary))
    if args.json:
        write_json(summary, args.json)
    if args.plot:
        plot_mlu(result, args.plot)
    return 0


def _flag_training_overlap(result, summary: dict, traffic_file, first_row: int) -> None:
    """Warn, and say so in the JSON, when a learned method is scored on matrices its
    checkpoint was trained to predict: that is training error, not skill."""
    if traffic_file is None:
        return
    scored = {first_row + int(t) for t in result.steps}
    file_sha256 = None  # hashed once, for the first learned method, not once per method
    for name, method in result.method_objects.items():
        trained_targets = getattr(method, "trained_targets", None)
        if trained_targets is None:
            continue
        from qnn.models.checkpoint import sha256_file  # torch is loaded by now: a learned method exists

        file_sha256 = file_sha256 or sha256_file(traffic_file)
        overlap = len(scored & set(trained_targets(traffic_file, file_sha256)))
        if overlap:
            summary["methods"][name]["scored_on_training_matrices"] = overlap
            print(f"qroute bench: warning: {name} is scored on {overlap} of {len(scored)} "
                  f"matrices its checkpoint was trained on; use --start past its training "
                  f"range (see the checkpoint's sidecar, split.train_pairs) for honest figures",
                  file=sys.stderr)
