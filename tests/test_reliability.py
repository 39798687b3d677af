"""The reliability runner: which checks run, and a check that breaks or returns nothing is a
failed check, not a crash of the suite. The checks themselves run in the Mininet tier."""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import types

import pytest

from controller.lab import reliability
from controller.lab.checks import CheckResult
from controller.lab.reliability import Check, run_check, selected

CHECKS = (Check("a", "m", "f", full={"n": 10}, fast={"n": 1}),
          Check("b", "m", "g", full={}),
          Check("c", "m", "h", full={}, fast={}))


def test_the_fast_subset_keeps_the_table_order_and_leaves_out_checks_without_a_fast_form():
    assert [check.key for check in selected(CHECKS, None, fast=True)] == ["a", "c"]
    assert [check.key for check in selected(CHECKS, None, fast=False)] == ["a", "b", "c"]
    assert [check.key for check in selected(CHECKS, ["c", "a"], fast=False)] == ["a", "c"]


def test_an_unknown_check_name_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(ValueError, match=r"no reliability check zz; there are a, b, c"):
        selected(CHECKS, ["a", "zz"], fast=False)


def module_with(**functions):
    return lambda name: types.SimpleNamespace(**functions)


def test_a_check_gets_its_fast_or_full_arguments():
    seen = []

    def f(n):
        seen.append(n)
        return CheckResult("x", "rule", f"n={n}", True)

    assert run_check(CHECKS[0], fast=True, importer=module_with(f=f)).figure == "n=1"
    assert run_check(CHECKS[0], fast=False, importer=module_with(f=f)).figure == "n=10"
    assert seen == [1, 10]


def test_a_check_that_raises_or_returns_no_result_fails_with_the_reason():
    def broken(n):
        raise RuntimeError("switch s3 never connected")

    failed = run_check(CHECKS[0], fast=True, importer=module_with(f=broken))
    assert not failed.passed and "switch s3 never connected" in failed.figure
    assert "Traceback" in failed.details["traceback"]
    odd = run_check(CHECKS[0], fast=True, importer=module_with(f=lambda n: {"passed": True}))
    assert not odd.passed and odd.figure == "returned dict"


def test_every_registered_check_exists_and_accepts_its_arguments():
    # a typo in the table would otherwise surface only in a root run
    for check in reliability.CHECKS:
        function = getattr(importlib.import_module(check.module), check.function)
        signature = inspect.signature(function)
        signature.bind(**check.full)
        if check.fast is not None:
            signature.bind(**check.fast)


def test_the_run_prints_the_table_writes_json_and_fails_when_a_check_fails(tmp_path, monkeypatch, capsys):
    results = {"a": CheckResult("first", "0 lost", "0 lost", True, {"lost": 0}),
               "c": CheckResult("third", "<= 50 ms", "80 ms", False)}
    monkeypatch.setattr(reliability, "CHECKS", CHECKS)
    monkeypatch.setattr(reliability, "run_check", lambda check, fast: results[check.key])
    out = tmp_path / "r.json"
    args = argparse.Namespace(only=None, fast=True, json=str(out), markdown=str(tmp_path / "r.md"))
    assert reliability.run(args) == 1
    printed = capsys.readouterr().out
    assert "1 of 2 checks passed; failed: c" in printed
    assert "| c | third | <= 50 ms | 80 ms | **FAIL** |" in printed.replace("  ", " ")
    written = json.loads(out.read_text())
    assert [(row["check"], row["passed"], row["details"]) for row in written] == [
        ("a", True, {"lost": 0}), ("c", False, {})]
    assert (tmp_path / "r.md").read_text().startswith("| check |")


def test_the_failover_rule_wants_every_trial_lossless_and_taken_over_within_5_s():
    from controller.lab.reliability_ha import judge

    good = {"transmitted": 1000, "lost": 0, "takeover_s": 3.9}
    assert judge([good, good])[0]
    assert not judge([good, {**good, "lost": 1}])[0]
    assert not judge([good, {**good, "takeover_s": 5.2}])[0]
    assert not judge([{**good, "takeover_s": None}])[0]
    assert not judge([{**good, "transmitted": 0}])[0]
    assert not judge([])[0]
    assert judge([good, {**good, "lost": 2}])[1].startswith("2 lost in 2 trials ([0, 2])")
