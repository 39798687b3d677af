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


# --- flow-table exhaustion (Mininet, root) --------------------------------------------------
EXHAUSTION_PASS_RULE = ("every OpenFlow error decoded (type and code names) and tied to the rule "
                        "that caused it; the pairs with refused rules shown as not installed in REST "
                        "and metrics; a fallback tried for them; every pair shown installed pings and "
                        "every switch stays connected")


def _metric(text: str, name: str, labels: str = "") -> float:
    for line in text.splitlines():
        if line.startswith(name + (("{" + labels + "}") if labels else "")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _settled_refusals(lab, timeout: float) -> dict:
    """The REST state once the refused pairs stopped changing (retries done or given up)."""
    deadline = time.monotonic() + timeout
    last, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = lab.rest("state")
        now = (json.dumps(state["guards"]["pairs_not_installed"]), state["epoch"])
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since > 3.0 and not state["rerouting"]:
            return state
        time.sleep(0.25)
    return lab.rest("state")


def flow_table_exhaustion(flow_limit: int = 8, switch: int = 2, ring: int = 4) -> CheckResult:
    """A ring of ``ring`` switches with a host each; table 0 of switch ``switch`` holds at most
    ``flow_limit`` rules (Open vSwitch Flow_Table flow_limit, overflow_policy=refuse); every host
    pings every other once to teach the controller the hosts, then the errors, the REST view and
    the metrics are read and every host pair the REST view shows installed is pinged."""
    from controller.lab.mininet_lab import MininetLab
    from topologies.mininet_topos import RingTopo

    metrics_port = free_port()
    with MininetLab(RingTopo(n=ring), settings={"metrics_port": str(metrics_port)}) as lab:
        lab.wait_until_ready()
        subprocess.run(["ovs-vsctl", "--", "--id=@ft", "create", "Flow_Table", f"flow_limit={flow_limit}",
                        "overflow_policy=refuse", "--", "set", "Bridge", f"s{switch}", "flow_tables:0=@ft"],
                       check=True, capture_output=True)
        started = time.monotonic()
        lab.net.pingAll(timeout="1")
        state = _settled_refusals(lab, 30.0)
        settled_s = time.monotonic() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        installed = {(p["src"], p["dst"]) for p in state["pairs"] if p["installed"]}
        not_installed = {(p["src"], p["dst"]): p["not_installed"] for p in state["pairs"]
                         if not p["installed"]}
        pings = {}
        for a in lab.net.hosts:
            for b in lab.net.hosts:
                sa, sb = int(a.name[1:]), int(b.name[1:])
                if a is not b and (sa, sb) in installed and (sb, sa) in installed:
                    out = a.cmd(f"ping -n -c 2 -W 1 {b.IP()}")
                    pings[f"{a.name}-{b.name}"] = " 0% packet loss" in out or " 50% packet loss" in out
        table = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", f"s{switch}", "table=0"],
                               capture_output=True, text=True).stdout
        # the errors counted and the errors logged, read together: retries of refused pairs
        # may still be answered while the pings run
        final = lab.rest("state")
        log = lab.controller_log()
    error_lines = [line for line in log.splitlines() if "OpenFlow error:" in line]
    untied = [line for line in error_lines if "a message not recorded" in line]
    errors = final["guards"]["openflow_errors"]
    total_errors = sum(e["count"] for e in errors)
    decoded = all(e["type"].startswith("OFPET_") and e["code"].startswith("OFP") for e in errors)
    refused_pairs = set()
    for line in error_lines:
        affected = line.rsplit("pairs affected: ", 1)[-1].strip()
        if affected != "none":
            refused_pairs |= {tuple(int(n) for n in pair.split("-")) for pair in affected.split(", ")}
    fallbacks = _metric(metrics, "qroute_reroutes_total", 'trigger="refused"')
    fallback_tried = fallbacks >= 1
    shown = bool(not_installed) and _metric(metrics, "qroute_pairs_not_installed") == len(not_installed)
    every_refused_shown = all(pair in not_installed or pair in installed for pair in refused_pairs) and \
        all(pair in refused_pairs for pair in not_installed)
    switches_kept = len(state["switches"]) == ring
    pinged = sum(pings.values())
    passed = (total_errors > 0 and decoded and not untied and len(error_lines) == total_errors
              and shown and every_refused_shown and fallback_tried and pinged == len(pings) > 0
              and switches_kept)
    kinds = ", ".join(f"{e['count']} {e['type']}/{e['code']}" for e in errors) or "no errors"
    figure = (f"{kinds}; {len(error_lines) - len(untied)}/{len(error_lines)} tied to a rule; "
              f"{len(not_installed)} pairs shown not installed (metric "
              f"{_metric(metrics, 'qroute_pairs_not_installed'):g}); fallback decisions "
              f"{fallbacks:g}; "
              f"{pinged}/{len(pings)} installed host pairs ping; settled in {settled_s:.1f} s")
    return CheckResult(f"flow-table exhaustion (table 0 of s{switch} limited to {flow_limit} rules)",
                       EXHAUSTION_PASS_RULE, figure, passed,
                       {"errors": errors, "error_lines": error_lines[:50], "untied": untied,
                        "not_installed": {f"{a}-{b}": why for (a, b), why in not_installed.items()},
                        "refused_pairs": sorted(refused_pairs), "pings": pings,
                        "switches": state["switches"], "table0": table, "settled_s": settled_s})
