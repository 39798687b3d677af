"""Reliability checks of local protection, each setting up its own Mininet lab (root):

- :func:`link_failure_on_an_active_path`: a 1,000 pps ping stream, the first link of its path
  taken down while the controller is stopped (SIGSTOP, for STOPPED_S), so that only the
  switches' fast-failover groups can save it; the controller is then continued and must
  re-optimise off the link while the stream goes on (the outage counts the whole stream).
- :func:`silent_link_death`: the first link of the stream's path black-holed with both carriers
  up (:mod:`controller.lab.silent_link`); with BFD on the inter-switch links the switches bypass
  it within BFD's detection time; the controller notices it through LLDP, or through the port's
  liveness where the switch reports it.
- :func:`lldp_detection`: the same without BFD: how long the controller takes to drop the link
  (Ryu's LLDP timeout).

Bounds (see README "Local protection"):
- BFD (Open vSwitch): a session goes down once no BFD packet arrived for 3 x the negotiated
  receive interval (the detect multiplier is fixed at 3); at `bfd_ms` = 10 that is 30 ms, and the
  stream's outage adds the switch's reaction and the measurement's granularity
  (:func:`bfd_bound_ms`: 60 ms).
- LLDP (ryu.topology.switches): a link is deleted when its last LLDP reply is older than
  LINK_TIMEOUT (10 s) and more than LINK_LLDP_DROP (5) probes went unanswered, checked every
  TIMEOUT_CHECK_PERIOD (5 s), probes every 0.9 s per port: detection within 10-16 s.
"""
from __future__ import annotations

import random
import re
import subprocess
import tempfile
import time

from controller.lab.checks import CheckResult

PROTECTED_OUTAGE_MS = 50          # the target for a failed link on an active path
PROTECTED_TRIALS_NEEDED = 0.9     # of the trials, within it
BFD_MULTIPLIER = 3                # Open vSwitch's BFD detect multiplier (not configurable)
LLDP_BOUND_S = 10.0 + 5.0 + 1.0   # LINK_TIMEOUT + TIMEOUT_CHECK_PERIOD + a probe period
REOPTIMISE_S = 5.0                # once continued, the controller must be off the link by then
STOPPED_S = 0.8                   # the controller stays stopped this long after the failure


def bfd_bound_ms(bfd_ms: int) -> float:
    """The longest outage BFD detection allows, as the stream measures it: 3 intervals without
    a BFD packet (Open vSwitch sends within the interval, never later), then up to 20 ms for
    ovs-vswitchd's main loop to see the session down and revalidate its cached flows (measured
    10-20 ms beyond the 30 ms), and 10 ms of measurement: ping slows to about one probe per
    10 ms while its replies are missing."""
    return BFD_MULTIPLIER * bfd_ms + 20 + 10


def _start_stream(lab, src, dst, count, interval_s):
    """A ping stream writing to a file (a pipe would fill up and stall ping while nobody
    reads it: 1,000 replies a second are about 55 kB)."""
    out = tempfile.TemporaryFile("w+")
    process = lab.host(src).popen(
        ["ping", "-D", "-n", "-i", str(interval_s), "-c", str(count), "-W", "1", lab.host(dst).IP()],
        stdout=out, stderr=subprocess.STDOUT, text=True)
    return process, out, count, interval_s


def _finish_stream(stream, timeout=60.0):
    from controller.lab.mininet_lab import PingStream

    process, out, count, interval_s = stream
    process.wait(timeout=timeout)
    out.seek(0)
    text = out.read()
    out.close()
    received = {int(m) for m in re.findall(r"icmp_seq=(\d+)", text)}
    return PingStream(sent=count, received=received, interval_s=interval_s), [
        float(m) for m in re.findall(r"^\[(\d+\.\d+)\]", text, re.MULTILINE)]


def _longest_silence(arrivals: list[float], since: float) -> tuple[float, float]:
    """(longest time without a reply, when it began, both in ms after `since`): wall-clock
    from the replies' arrival times (ping -D)."""
    gaps = [(b - a, a) for a, b in zip(arrivals, arrivals[1:])]
    if not gaps:
        return 0.0, 0.0
    gap, start = max(gaps)
    return round(gap * 1000, 1), round((start - since) * 1000, 1)


def _stream_through(lab, rng, hosts, min_hops=2):
    """A host pair whose path's first link has a backup (is not a bridge of the network)."""
    import networkx as nx

    graph = nx.Graph((entry["src"], entry["dst"]) for entry in lab.rest("links"))
    bridges = {frozenset(edge) for edge in nx.bridges(graph)}
    while True:
        src, dst = rng.sample(hosts, 2)
        path = lab.wait_for_path(src, dst)
        if len(path) >= min_hops and frozenset(path[:2]) not in bridges:
            return src, dst, path


def _wait_for_bfd(lab, timeout=10.0) -> bool:
    """Whether every inter-switch interface's BFD session forwards (again) before the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(lab.bfd_state(name).get("forwarding") == "true"
               for name in lab.switch_link_interfaces()):
            return True
        time.sleep(0.2)
    return False


def _wait_off_link(lab, src, dst, link, timeout) -> float | None:
    """Seconds until the installed split between the hosts avoids `link` (None: not by then)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        split = lab.split_between(src, dst)
        if split and not any({link[0], link[1]} <= set(path) and _uses(path, link)
                             for path, _ in split):
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def _uses(path, link) -> bool:
    return any({a, b} == set(link) for a, b in zip(path, path[1:]))


def _link_gone(lab, link, timeout) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        known = {(entry["src"], entry["dst"]) for entry in lab.rest("links")}
        if tuple(link) not in known:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def _lab(topo, **kwargs):
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab

    mininet.clean.cleanup()
    lab = MininetLab(topo, **kwargs)
    lab.start()
    lab.wait_until_ready()
    lab.ping_all()
    return lab


def link_failure_on_an_active_path(trials: int = 10, rate_pps: int = 1000, seed: int = 1,
                                   topology: str = "abilene", protect: bool = True) -> CheckResult:
    """`protect` = False runs the controller with local_protection = false: the comparison
    (a stopped controller repairs nothing, so the stream is cut until SIGCONT)."""
    from topologies.mininet_topos import topos

    import mininet.clean

    rng = random.Random(seed)
    lab = _lab(topos[topology](), settings={"local_protection": str(protect).lower()})
    rows = []
    try:
        hosts = sorted(lab.topo.hosts(), key=lambda name: int(name[1:]))
        for trial in range(1, trials + 1):
            src, dst, path = _stream_through(lab, rng, hosts)
            link = (path[0], path[1])
            stream = _start_stream(lab, src, dst, int(3.0 * rate_pps), 1.0 / rate_pps)
            time.sleep(1.0)
            lab.pause_controller(True)
            try:
                failed_at = time.time()
                lab.set_link(*link, up=False)
                time.sleep(STOPPED_S)
            finally:
                lab.pause_controller(False)
            # the controller re-optimises while the stream still runs: that must cost nothing
            reoptimised = _wait_off_link(lab, src, dst, link, REOPTIMISE_S)
            result, arrivals = _finish_stream(stream)
            silence_ms, silence_at_ms = _longest_silence(arrivals, failed_at)
            # the outage is the longest wall-clock time without a reply: ping slows down while
            # its replies are missing, so lost replies x interval would understate it
            rows.append({"trial": trial, "src": src, "dst": dst, "link": list(link),
                         "outage_ms": round(max(silence_ms, result.outage_s * 1000)),
                         "lost": result.lost, "sent": result.sent,
                         "longest_lost_run_ms": round(result.outage_s * 1000),
                         "silence_began_ms_after_failure": silence_at_ms,
                         "reoptimised_s": None if reoptimised is None else round(reoptimised, 2)})
            lab.set_link(*link, up=True)
            lab.wait_for_all_links()
    finally:
        lab.stop()
        mininet.clean.cleanup()
    within = sum(row["outage_ms"] <= PROTECTED_OUTAGE_MS for row in rows)
    reoptimised = sum(row["reoptimised_s"] is not None for row in rows)
    needed = -(-trials * 9 // 10)
    return CheckResult(
        name=f"link failure on an active path ({topology}, {rate_pps} pps, controller stopped "
             f"by SIGSTOP during the failure{'' if protect else ', local_protection = false'})",
        pass_rule=f"outage <= {PROTECTED_OUTAGE_MS} ms in >= {needed} of {trials} trials; "
                  f"re-optimised off the link within {REOPTIMISE_S:g} s of SIGCONT in every trial",
        figure=f"outage <= {PROTECTED_OUTAGE_MS} ms in {within} of {trials} (ms: "
               f"{[row['outage_ms'] for row in rows]}); re-optimised in {reoptimised} of {trials}",
        passed=within >= needed and reoptimised == trials,
        details={"trials": rows})


def silent_link_death(trials: int = 3, bfd_ms: int = 10, rate_pps: int = 1000,
                      seed: int = 2, topology: str = "abilene") -> CheckResult:
    """BFD on; each trial black-holes the first link of an active stream's path."""
    from topologies.mininet_topos import topos

    import mininet.clean

    rng = random.Random(seed)
    lab = _lab(topos[topology](), bfd_ms=bfd_ms)
    rows = []
    bound = bfd_bound_ms(bfd_ms)
    try:
        _wait_for_bfd(lab)
        hosts = sorted(lab.topo.hosts(), key=lambda name: int(name[1:]))
        for trial in range(1, trials + 1):
            src, dst, path = _stream_through(lab, rng, hosts)
            link = (path[0], path[1])
            stream = _start_stream(lab, src, dst, int(2.0 * rate_pps), 1.0 / rate_pps)
            time.sleep(1.0)
            silenced_at = time.time()
            lab.set_link_silent(*link, silent=True)
            try:
                gone = _link_gone(lab, link, LLDP_BOUND_S + 2)
                controller_s = None if gone is None else round(gone, 2)
                result, arrivals = _finish_stream(stream)
                silence_ms, _ = _longest_silence(arrivals, silenced_at)
                reoptimised = _wait_off_link(lab, src, dst, link, REOPTIMISE_S)
            finally:
                lab.set_link_silent(*link, silent=False)
            rows.append({"trial": trial, "src": src, "dst": dst, "link": list(link),
                         "outage_ms": round(max(silence_ms, result.outage_s * 1000)),
                         "lost": result.lost, "longest_lost_run_ms": round(result.outage_s * 1000),
                         "controller_detect_s": controller_s,
                         "reoptimised": reoptimised is not None})
            lab.wait_for_all_links(timeout=30)
            _wait_for_bfd(lab)
    finally:
        lab.stop()
        mininet.clean.cleanup()
    within = sum(row["outage_ms"] <= bound for row in rows)
    return CheckResult(
        name=f"silent link death ({topology}, BFD every {bfd_ms} ms, {rate_pps} pps)",
        pass_rule=f"outage <= {bound:g} ms (BFD's 3 x {bfd_ms} ms detection) in every trial; "
                  f"the controller drops the link within {LLDP_BOUND_S:g} s",
        figure=f"outages (ms) {[row['outage_ms'] for row in rows]}; controller dropped the link "
               f"after (s) {[row['controller_detect_s'] for row in rows]}",
        passed=within == trials and all(row["controller_detect_s"] is not None for row in rows),
        details={"bound_ms": bound, "trials": rows})


def lldp_detection(trials: int = 2, seed: int = 3, topology: str = "diamond") -> CheckResult:
    """No BFD: how long until the controller drops a silently dead link (LLDP timeout)."""
    from topologies.mininet_topos import topos

    import mininet.clean

    rng = random.Random(seed)
    lab = _lab(topos[topology]())
    rows = []
    try:
        hosts = sorted(lab.topo.hosts(), key=lambda name: int(name[1:]))
        for trial in range(1, trials + 1):
            src, dst, path = _stream_through(lab, rng, hosts)
            link = (path[0], path[1])
            lab.set_link_silent(*link, silent=True)
            try:
                detected = _link_gone(lab, link, LLDP_BOUND_S + 5)
            finally:
                lab.set_link_silent(*link, silent=False)
            rows.append({"trial": trial, "link": list(link),
                         "detect_s": None if detected is None else round(detected, 2)})
            lab.wait_for_all_links(timeout=30)
    finally:
        lab.stop()
        mininet.clean.cleanup()
    times = [row["detect_s"] for row in rows]
    return CheckResult(
        name=f"silent link death without BFD ({topology}): LLDP timeout",
        pass_rule=f"the controller drops the link within {LLDP_BOUND_S:g} s",
        figure=f"dropped after (s) {times}",
        passed=all(t is not None and t <= LLDP_BOUND_S for t in times),
        details={"trials": rows})
