"""With CI=true a skipped Mininet or data test fails the run (tests/conftest.py); without it, it
skips. Each case runs pytest on a small test file in a subprocess, with this suite's conftest
loaded as a plugin."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

TIERS = '''
import pytest


def test_plain_passes():
    assert sum([1, 1]) == 2


def test_plain_skip_is_allowed():
    pytest.skip("optional extra not installed")


@pytest.mark.data
def test_data_skips():
    pytest.skip("real data unavailable")


@pytest.fixture
def lab():
    pytest.skip("Mininet tests need root")


@pytest.mark.mininet
def test_mininet_skips_in_its_fixture(lab):
    raise AssertionError("its fixture skips before the body runs")


@pytest.mark.data
@pytest.mark.skipif(True, reason="no GEANT files")
def test_data_skipif():
    raise AssertionError("skipif skips before the body runs")


@pytest.mark.data
@pytest.mark.xfail(reason="a known failure, not a skip")
def test_data_xfail():
    assert False
'''

WHOLE_MODULE = '''
import pytest

pytestmark = pytest.mark.mininet
pytest.skip("Mininet tests need root", allow_module_level=True)


def test_never_collected():
    raise AssertionError("the module skips before its tests are collected")
'''


def run_pytest(tmp_path, source: str, ci: str | None, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    mininet: m\n    data: d\n")
    (tmp_path / "test_sample.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "-q", "-rA", *args, "test_sample.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_outside_ci_the_tiers_skip_and_the_run_passes(tmp_path, ci):
    result = run_pytest(tmp_path, TIERS, ci)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 4 skipped, 1 xfailed" in result.stdout


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_in_ci_a_skipped_mininet_or_data_test_fails_the_run(tmp_path, ci):
    result = run_pytest(tmp_path, TIERS, ci)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 2 errors" in out  # errors: skips in setup
    assert "FAILED test_sample.py::test_data_skips" in out
    assert "ERROR test_sample.py::test_mininet_skips_in_its_fixture" in out
    assert "ERROR test_sample.py::test_data_skipif" in out
    assert "SKIPPED [1] test_sample.py" in out and "optional extra not installed" in out
    for tier, why in (("data", "real data unavailable"), ("mininet", "Mininet tests need root"),
                      ("data", "no GEANT files")):
        assert f"CI=true: the {tier} tier must run in CI, but it was skipped (Skipped: {why})" in out


def test_in_ci_deselecting_a_tier_is_not_skipping_it(tmp_path):
    result = run_pytest(tmp_path, TIERS, "true", "-m", "not mininet and not data")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped, 4 deselected" in result.stdout


def test_in_ci_a_tier_module_that_skips_while_importing_fails_the_run(tmp_path):
    outside = run_pytest(tmp_path, WHOLE_MODULE, None)
    assert outside.returncode == pytest.ExitCode.NO_TESTS_COLLECTED and "1 skipped" in outside.stdout
    result = run_pytest(tmp_path, WHOLE_MODULE, "true")
    assert result.returncode != 0
    assert "CI=true: the mininet tier must run in CI, but it was skipped" in result.stdout
    assert "Mininet tests need root" in result.stdout
