"""``qroute lab reliability``: faults and hostile input, each check with its pass rule and figure.

    sudo .venv/bin/qroute lab reliability                       # every check, full length
    sudo .venv/bin/qroute lab reliability --fast                # the short subset make test runs
    sudo .venv/bin/qroute lab reliability --only rest-fuzz,restart --json out.json

Each check builds its own Mininet lab with a real ryu-manager, does what an operator or an
attacker would, and judges the outcome by the rule it prints. The table goes to stdout (and
``--markdown``), the numbers to ``--json``; the exit status is 1 when any check failed.
"""
from __future__ import annotations

import argparse
import importlib
import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from controller.lab.checks import CheckResult
from qnn.argtypes import writable_output


@dataclass(frozen=True)
class Check:
    """A reliability check: `function` in `module` called with `full` (its length in
    `qroute lab reliability`) or `fast` (the short form make test runs) keyword arguments;
    `fast` None leaves it out of the fast subset."""

    key: str
    module: str
    function: str
    full: dict = field(default_factory=dict)
    fast: dict | None = None


CHECKS: tuple[Check, ...] = (
    Check("restart", "controller.lab.reliability_resync", "check_kill_and_restart",
          full={"down_s": 3.0}, fast={"down_s": 3.0}),
    Check("restart-without-state-file", "controller.lab.reliability_resync", "check_kill_and_restart",
          full={"down_s": 3.0, "state_file": False}),
    Check("link-failure", "controller.lab.reliability_protect", "link_failure_on_an_active_path",
          full={"trials": 10}, fast={"trials": 3}),
    Check("silent-link-death", "controller.lab.reliability_protect", "silent_link_death",
          full={"trials": 10}, fast={"trials": 3}),
    Check("lldp-detection", "controller.lab.reliability_protect", "lldp_detection",
          full={"trials": 2}),
    Check("rest-fuzz", "controller.lab.reliability_inputs", "rest_fuzz",
          full={"requests": 2000}, fast={"requests": 300}),
    Check("bad-checkpoints", "controller.lab.reliability_inputs", "bad_checkpoints",
          full={}, fast={"cases": ("truncated",)}),
    Check("malformed-openflow", "controller.lab.reliability_guards", "malformed_openflow",
          full={}, fast={}),
    Check("flow-table-exhaustion", "controller.lab.reliability_guards", "flow_table_exhaustion",
          full={"flow_limit": 20, "ring": 8}, fast={}),
    Check("packet-in-flood", "controller.lab.reliability_edge", "check_packet_in_flood",
          full={"seconds": 20.0}, fast={}),
    Check("ip-takeover", "controller.lab.reliability_edge", "check_ip_takeover", full={}, fast={}),
    Check("dpid-takeover", "controller.lab.reliability_edge", "check_dpid_takeover", full={}, fast={}),
    Check("tls-channel", "controller.lab.reliability_edge", "check_tls_channel", full={}, fast={}),
    Check("master-failover", "controller.lab.reliability_ha", "master_failover",
          full={"trials": 3}, fast={"trials": 2, "topology": "ring"}),
    Check("soak", "controller.lab.reliability_soak", "soak", full={"minutes": 10.0},
          fast={"minutes": 1.0}),
)


def selected(checks: Sequence[Check], only: Sequence[str] | None, fast: bool) -> list[Check]:
    """The checks to run, in the table's order; a name in `only` that is no check raises."""
    known = {check.key for check in checks}
    unknown = [name for name in only or () if name not in known]
    if unknown:
        raise ValueError(f"no reliability check {', '.join(unknown)}; there are {', '.join(sorted(known))}")
    return [check for check in checks
            if (not only or check.key in only) and (not fast or check.fast is not None)]


def run_check(check: Check, fast: bool, importer: Callable = importlib.import_module) -> CheckResult:
    """The check's result; one that raises fails, with the error as its figure (the other
    checks still run)."""
    try:
        function = getattr(importer(check.module), check.function)
        result = function(**(check.fast if fast else check.full))
    except Exception as error:  # noqa: BLE001 - a check that breaks is a failed check
        return CheckResult(name=check.key, pass_rule="(the check did not finish)",
                           figure=f"error: {error!r}", passed=False,
                           details={"traceback": traceback.format_exc()})
    if not isinstance(result, CheckResult):
        return CheckResult(name=check.key, pass_rule="(the check returned no result)",
                           figure=f"returned {type(result).__name__}", passed=False)
    return result


def results_table(results: Sequence[tuple[Check, CheckResult, float]]) -> str:
    from qnn.tables import markdown_table

    rows = [[check.key, result.name, result.pass_rule, result.figure,
             "pass" if result.passed else "**FAIL**", f"{seconds:.0f}"]
            for check, result, seconds in results]
    return markdown_table(["check", "what", "pass rule", "measured", "result", "s"], rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", type=lambda text: [name for name in text.split(",") if name],
                        help="comma-separated check names (default: all): "
                             + ", ".join(check.key for check in CHECKS))
    parser.add_argument("--fast", action="store_true", help="the short subset make test runs")
    parser.add_argument("--json", help="write every result with its numbers here")
    parser.add_argument("--markdown", help="write the table here")


def run(args: argparse.Namespace) -> int:
    for path, kind, suffixes in ((args.json, "json", (".json",)), (args.markdown, "markdown", (".md",))):
        if path:
            writable_output(path, kind, suffixes)
    checks = selected(CHECKS, args.only, args.fast)
    results = []
    for check in checks:
        print(f"reliability: {check.key} ...", flush=True)
        started = time.monotonic()
        result = run_check(check, args.fast)
        seconds = time.monotonic() - started
        results.append((check, result, seconds))
        print(f"reliability: {check.key}: {'pass' if result.passed else 'FAIL'}: {result.figure} "
              f"({seconds:.0f} s)", flush=True)
    table = results_table(results)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(table + "\n")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([{"check": check.key, "seconds": round(seconds, 1), **asdict(result)}
                       for check, result, seconds in results], handle, indent=1, default=str)
    failed = [check.key for check, result, _ in results if not result.passed]
    print(f"reliability: {len(results) - len(failed)} of {len(results)} checks passed"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
