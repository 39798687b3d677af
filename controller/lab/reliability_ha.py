"""Reliability check: master failover under a 100 pps ping stream (controller.lab.ha_lab).

Pass rule (issue 15's target): in every trial no packet of the stream lost, and within 5 s of
the ``kill -9`` of the master another controller is master (a newer generation) and has read
every switch back. Needs root.
"""
from __future__ import annotations

from controller.lab.checks import CheckResult

NAME = "master failover (kill -9) under a 100 pps stream"
PASS_RULE = "0 packets lost, a new master with every switch read back within 5 s, every trial"
TAKEOVER_LIMIT_S = 5.0


def judge(trials: list[dict]) -> tuple[bool, str]:
    """Whether the trials pass the rule, and the figure in words."""
    lost = [trial["lost"] for trial in trials]
    takeovers = [trial["takeover_s"] for trial in trials]
    passed = bool(trials) and all(trial["transmitted"] > 0 and trial["lost"] == 0 and
                                  trial["takeover_s"] is not None and
                                  trial["takeover_s"] <= TAKEOVER_LIMIT_S for trial in trials)
    shown = ", ".join("never" if t is None else f"{t:.2f}" for t in takeovers)
    return passed, (f"{sum(lost)} lost in {len(trials)} trials ({lost}); new master with every "
                    f"switch read back after {shown} s")


def master_failover(trials: int = 3, topology: str = "abilene", controllers: int = 3,
                    leader_ttl: int = 3, rate_pps: int = 100) -> CheckResult:
    from controller.lab.ha_lab import run_failovers

    report = run_failovers(topology, controllers, trials, leader_ttl, rate_pps)
    passed, figure = judge(report["trials"])
    return CheckResult(NAME, PASS_RULE, figure, passed, report)
