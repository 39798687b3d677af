"""`make demo`'s tool run for real (Mininet, ryu-manager, iperf3, chromium): it passes, its
timeline ends with the dashboard's screenshot taken after the heavy-traffic race, and the PNG
it names is there. About 2 minutes; root only."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from controller.lab.mininet_lab import REPO_ROOT
from tests.lab_helpers import lab_module

pytestmark = pytest.mark.mininet


def test_the_demo_passes_and_ends_with_the_dashboard_screenshot(tmp_path):
    lab_module("mininet_lab")
    shot = tmp_path / "demo-dashboard.png"
    run = subprocess.run([sys.executable, "-m", "qnn.cli", "lab", "demo", "--screenshot", str(shot)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert lines[-1] == "demo: all steps passed"
    steps = [match.group(1) for line in lines if (match := re.match(r"\[\s*[\d.]+ s\] (\S.*?)\s{2,}", line))]
    assert steps[-1] == "dashboard" and "QNN, split" in steps, steps
    assert steps.index("QNN, split") < len(steps) - 1
    assert f"saved to {shot}" in lines[-2]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
