"""`qroute lab demo-live` (make demo-live) as a person runs it: it comes up, prints the dashboard's
URL and token, serves the page and the network, loops its traffic, and on SIGINT (Ctrl-C) takes
down everything it started: no controller, no iperf3, no Mininet host, no Open vSwitch bridge."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.lab_helpers import lab_module

pytestmark = pytest.mark.mininet

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S, STOP_TIMEOUT_S = 180, 90


def _command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return lines


def _bridges() -> list[str]:
    return subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True, check=True).stdout.split()


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers.get_content_type(), response.read()


def test_demo_live_serves_the_dashboard_and_cleans_up_on_sigint():
    mininet_lab = lab_module("mininet_lab")
    from mininet.clean import cleanup

    cleanup()
    subprocess.run([str(REPO / "scripts" / "ovs-start")], check=True)
    assert _bridges() == [], "a bridge was left before the test"
    port = mininet_lab.free_port()
    demo = subprocess.Popen([sys.executable, "-m", "qnn.cli", "lab", "demo-live", "--port", str(port),
                             "--matrices", "2", "--seconds-per-matrix", "4"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(demo.stdout.readline, "")), daemon=True)
    reader.start()

    def wait_for(pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                found = re.search(pattern, line)
                if found:
                    return found
            assert demo.poll() is None, f"demo-live exited {demo.returncode}:\n{''.join(lines)}"
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{''.join(lines)}")

    try:
        url = wait_for(r"dashboard\s+(http://\S+)", START_TIMEOUT_S).group(1)
        token = wait_for(r"api token\s+(\S+)", 5).group(1)
        assert url == f"http://127.0.0.1:{port}/qroute/ui/" and len(token) >= 16
        status, content_type, body = _get(url)
        assert status == 200 and content_type == "text/html" and b"<title>qroute dashboard" in body
        assert _get(url + "vendor/cytoscape.min.js")[0] == 200
        status, _, _ = _get(f"http://127.0.0.1:{port}/qroute/v1/topology")
        assert status == 200
        wait_for(r"matrix \d+: \d+ pairs", 60)  # the traffic loop runs
        assert any("iperf3" in line for line in _command_lines())
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=STOP_TIMEOUT_S) == 0, "".join(lines)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
            cleanup()
    reader.join(timeout=5)
    output = "".join(lines)
    assert "demo-live: SIGINT received" in output and "demo-live: stopped" in output, output
    left = [line for line in _command_lines()
            if f"--wsapi-port {port}" in line or line.startswith("iperf3 ") or "mininet:" in line]
    assert left == [], left
    assert _bridges() == []
    with pytest.raises(urllib.error.URLError):
        _get(url)
