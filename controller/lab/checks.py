"""One reliability check's outcome, as `qroute lab reliability` prints it and RELIABILITY.md
records it: the rule it is judged by, the figure measured, and whether the rule held."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CheckResult:
    """`name`: what was done (e.g. "controller kill -9 under a 100 pps stream");
    `pass_rule`: the target in words ("0 packets lost, resync within 10 s");
    `figure`: what was measured, in words ("0 lost, resynced in 3.1 s");
    `details`: the raw numbers, for the JSON report."""

    name: str
    pass_rule: str
    figure: str
    passed: bool
    details: dict = field(default_factory=dict)
