"""The Makefile's install order, read from make's own database (nothing is built)."""
from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def prerequisites(target: str) -> tuple[set[str], set[str]]:
    """(normal, order-only) prerequisites of ``target`` as make reads the Makefile."""
    if not shutil.which("make"):
        pytest.skip("no make")
    database = subprocess.run(["make", "-pnq", "-f", "Makefile"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60).stdout
    for line in database.splitlines():
        if line.startswith(f"{target}:"):
            normal, _, order_only = line[len(target) + 1:].partition("|")
            return set(normal.split()), set(order_only.split())
    raise AssertionError(f"no rule for {target}")


def test_the_dashboard_libraries_install_after_the_debian_packages():
    normal, order_only = prerequisites("controller/ui/vendor/.installed")
    assert {"package.json", "package-lock.json"} <= normal and "apt" in order_only
