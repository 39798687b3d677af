"""Reliability checks of the guards: malformed OpenFlow from a fake switch (no root), and
flow-table exhaustion on one bridge of a Mininet network (root).

Each check sets up what it needs, measures, and returns a
:class:`controller.lab.checks.CheckResult` with its pass rule and figure.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from controller.lab.checks import CheckResult
from controller.lab.fake_switch import MALFORMED, FakeSwitch, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Controller:
    """A real ryu-manager running qroute on free local ports (no switches of its own)."""

    def __init__(self, settings: dict | None = None, start_timeout: float = 30.0):
        self.of_port, self.rest_port = free_port(), free_port()
        self.folder = tempfile.mkdtemp(prefix="qroute-guards-")
        self.log_path = os.path.join(self.folder, "controller.txt")
        config = os.path.join(self.folder, "qroute.conf")
        with open(config, "w") as handle:
            handle.write("[qroute]\n")
            for key, value in {"api_token": secrets.token_urlsafe(16), **(settings or {})}.items():
                handle.write(f"{key} = {value}\n")
            handle.write("[DEFAULT]\necho_request_interval = 1.0\nmaximum_unreplied_echo_requests = 3\n")
        command = [sys.executable, "-m", "controller.launcher", "--ofp-tcp-listen-port", str(self.of_port),
                   "--wsapi-port", str(self.rest_port), "--config-file", config]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=env)
        if not wait_for(self._serving, start_timeout, step=0.2):
            self.stop()
            raise RuntimeError(f"the controller did not start: {self.log_text()[-2000:]}")

    def _serving(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the controller exited: {self.log_text()[-2000:]}")
        try:
            self.rest("switches", timeout=1.0)
            return True
        except OSError:
            return False

    def rest(self, part: str = "state", timeout: float = 2.0):
        url = f"http://127.0.0.1:{self.rest_port}/qroute/v1/{part}"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())

    def rest_ms(self, timeout: float = 2.0) -> float | None:
        """Milliseconds a REST read takes, None when it gets no answer within ``timeout``."""
        started = time.monotonic()
        try:
            self.rest("switches", timeout=timeout)
        except OSError:
            return None
        return (time.monotonic() - started) * 1000

    def lists_switch(self, dpid: int) -> bool:
        try:
            return dpid in self.rest("switches")
        except OSError:
            return False

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@contextmanager
def running_controller(settings: dict | None = None):
    controller = Controller(settings)
    try:
        yield controller
    finally:
        controller.stop()


# --- malformed OpenFlow from a fake switch ---------------------------------------------------
MALFORMED_PASS_RULE = ("after every malformed message (each kind from its own connection) the "
                       "controller process runs, REST answers within 2 s, a well-formed switch "
                       "connected throughout gets its echo requests answered within 2 s, and a new "
                       "well-formed switch connects afterwards")
GOOD_DPID, NEW_DPID, FIRST_FAKE_DPID = 0x101, 0x102, 0x200


def malformed_openflow(kinds: list[str] | None = None, settle_s: float = 0.2) -> CheckResult:
    """Every kind of :data:`controller.lab.fake_switch.MALFORMED` (or ``kinds``) sent to a real
    ryu-manager from a connection of its own, while a well-formed fake switch stays connected."""
    kinds = list(MALFORMED) if kinds is None else kinds
    outcomes: dict[str, dict] = {}
    with running_controller({"stats_interval": "0.5"}) as controller:
        good = FakeSwitch(controller.of_port, GOOD_DPID).start()
        connected = good.handshake() and wait_for(
            lambda: controller.lists_switch(GOOD_DPID), 10.0)
        for number, kind in enumerate(kinds):
            build, before_handshake = MALFORMED[kind]
            fake = FakeSwitch(controller.of_port, FIRST_FAKE_DPID + number)
            try:
                if before_handshake:
                    fake.start(build(7))
                else:
                    fake.start()
                    fake.handshake(3.0)
                    fake.send(build(7))
                time.sleep(settle_s)
            except OSError:
                pass  # the controller closed the connection: that is allowed
            rest_ms = controller.rest_ms()
            echo_s = good.ping()
            fake.close()
            outcomes[kind] = {"alive": controller.alive(), "rest_ms": rest_ms,
                              "good_switch_echo_ms": None if echo_s is None else echo_s * 1000}
        newcomer = FakeSwitch(controller.of_port, NEW_DPID).start()
        started = time.monotonic()
        joined = newcomer.handshake() and wait_for(lambda: controller.lists_switch(NEW_DPID), 10.0)
        join_s = time.monotonic() - started
        still = controller.alive() and controller.lists_switch(GOOD_DPID)
        newcomer.close()
        good.close()
        log = controller.log_text()
    survived = [kind for kind, o in outcomes.items()
                if o["alive"] and o["rest_ms"] is not None and o["good_switch_echo_ms"] is not None]
    failed = [kind for kind in kinds if kind not in survived]
    rest = [o["rest_ms"] for o in outcomes.values() if o["rest_ms"] is not None]
    passed = connected and not failed and joined and still
    figure = (f"{len(survived)}/{len(kinds)} kinds survived"
              + (f" (failed: {', '.join(failed)})" if failed else "")
              + (f"; REST p50 {statistics.median(rest):.1f} ms, max {max(rest):.1f} ms" if rest else "")
              + (f"; a new switch joined in {join_s * 1000:.0f} ms" if joined
                 else "; a new switch did not join"))
    return CheckResult("malformed OpenFlow from a fake switch", MALFORMED_PASS_RULE, figure, passed,
                       {"kinds": outcomes, "good_switch_connected": connected, "new_switch_joined": joined,
                        "new_switch_join_s": join_s, "good_switch_kept": still,
                        "parse_errors_logged": log.count("Encountered an error while parsing OpenFlow"),
                        "controller_log_tail": log[-4000:]})
