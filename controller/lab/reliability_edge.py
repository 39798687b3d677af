"""Reliability checks of the network's edge and the OpenFlow channel, each in its own Mininet
lab (root): hosts that flood and spoof, a host claiming another's IP or MAC, the channel over
TLS, and a second connection claiming a connected switch's dpid.

Each check returns a :class:`controller.lab.checks.CheckResult` with its pass rule and figure.
The lab is three switches in a line (s1-s2-s3); h1 (the hostile host) and h4 hang off s1, h2
off s2, h3 off s3, so h4's traffic to h3 crosses the flooded switch.
"""
from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
import urllib.request

from mininet.topo import Topo

from controller.lab.checks import CheckResult
from controller.lab.fake_switch import FakeSwitch
from controller.lab.mininet_lab import MininetLab

MAX_HOSTS_PER_PORT = 4
EDGE_SETTINGS = {"max_hosts_per_port": str(MAX_HOSTS_PER_PORT), "max_hosts": "64",
                 "packet_in_rate": "500", "packet_in_port_budget": "100",
                 "port_block_seconds": "10", "host_probe_timeout": "1.0"}
QROUTE_COOKIE = re.compile(r"cookie=0x71726f75", re.IGNORECASE)


class EdgeTopo(Topo):
    """s1-s2-s3 in a line; h1 and h4 on s1, h2 on s2, h3 on s3 (hN: 10.0.0.N, MAC ...:0N)."""

    def build(self):
        switches = [self.addSwitch(f"s{n}", dpid=f"{n:016x}") for n in (1, 2, 3)]
        for a, b in zip(switches, switches[1:]):
            self.addLink(a, b)
        for n, switch in ((1, 0), (4, 0), (2, 1), (3, 2)):
            host = self.addHost(f"h{n}", ip=f"10.0.0.{n}/24", mac=f"00:00:00:00:00:{n:02x}")
            self.addLink(host, switches[switch])


# --- measurements -------------------------------------------------------------------------
def rtt_ms(lab: MininetLab, src: str, dst: str, count: int = 40, interval_s: float = 0.05) -> list[float]:
    """The round-trip times (ms) of `count` pings from src to dst; lost ones are missing."""
    out = lab.host(src).cmd(f"ping -n -i {interval_s} -c {count} -W 1 {lab.host(dst).IP()}")
    return [float(t) for t in re.findall(r"time=([\d.]+) ms", out)]


def rest_ms(lab: MininetLab, count: int = 20, pause_s: float = 0.05) -> list[float]:
    """How long `GET /qroute/v1/state` takes (ms), `count` times."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{lab.rest_port}/qroute/v1/state",
                                    timeout=10) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(pause_s)
    return times


def qroute_rules(lab: MininetLab) -> dict[str, int]:
    """Rules with qroute's cookie in each switch, read from the switch."""
    return {f"s{n}": len(QROUTE_COOKIE.findall(lab.dump_flows(f"s{n}"))) for n in (1, 2, 3)}


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("inf")


# --- frames from a hostile host ---------------------------------------------------------------
# Run inside a host (its own network namespace): raw Ethernet frames out of its interface.
# argv: interface, seconds, spoofed source MACs, claim (or "-"), frames per second (0: as fast
# as it can);
# "ip:<ip>" sends ARP claiming that IP from the host's own MAC, "mac:<mac>" ARP from that MAC
# (as host 10.0.0.3).
FRAMES_SCRIPT = r'''
import os, random, socket, struct, sys, time
intf, seconds, spoofed, claim = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rate = float(sys.argv[5])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((intf, 0))
own = bytes.fromhex(open(f"/sys/class/net/{intf}/address").read().strip().replace(":", ""))
def ipv4(src_mac, dst_mac, src_ip, dst_ip):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, src_ip, dst_ip)
    return dst_mac + src_mac + b"\x08\x00" + header + struct.pack("!HHHH", 9, 9, 8, 0) + bytes(18)
def arp(src_mac, src_ip, dst_ip, opcode=1):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, opcode, src_mac, src_ip, bytes(6), dst_ip)
    return b"\xff" * 6 + src_mac + b"\x08\x06" + body + bytes(18)
frames = []
for i in range(spoofed):
    mac = bytes([0x02, 0xee, 0, 0, i >> 8 & 255, i & 255])
    frames.append(ipv4(mac, bytes([0x02, 0xdd, 0, 0, 0, i & 255]), bytes([10, 9, i >> 8 & 255, i & 255]),
                       bytes([10, 8, 0, 1])))
if claim.startswith("ip:"):
    target = socket.inet_aton(claim[3:])
    frames += [arp(own, target, target), arp(own, target, socket.inet_aton("10.0.0.4"))]
elif claim.startswith("mac:"):
    mac = bytes.fromhex(claim[4:].replace(":", ""))  # its ARP reaches the controller
    frames += [arp(mac, bytes([10, 0, 0, 3]), socket.inet_aton("10.0.0.4"))]
flood = [ipv4(own, os.urandom(1) + os.urandom(5), bytes([10, 0, 0, 1]), os.urandom(4)) for _ in range(512)]
flood = [bytes([f[0] & 0xFE]) + f[1:] for f in flood]  # unicast destinations no host has
started = time.monotonic()
sent, end, pace = 0, started + seconds, claim != "-" and spoofed == 0
while time.monotonic() < end:
    if rate and sent > rate * (time.monotonic() - started):
        time.sleep(0.001)
        continue
    for frame in frames:
        sock.send(frame)
    sent += len(frames)
    if pace:
        time.sleep(0.2)
        continue
    for frame in flood:
        sock.send(frame)
    sent += len(flood)
print(sent)
'''


def send_frames(lab: MininetLab, host: str, seconds: float, spoofed: int = 0, claim: str = "-",
                rate_fps: float = 0):
    """Start `host` sending raw frames (see FRAMES_SCRIPT); returns the process (its stdout:
    how many frames it sent)."""
    node = lab.host(host)
    # niced: a real attacker's CPU is its own, while here it shares the controller's cores (the
    # switch's work on its frames still does)
    return node.popen(["nice", "-n", "19", sys.executable, "-c", FRAMES_SCRIPT,
                       str(node.defaultIntf()), str(seconds), str(spoofed), claim, str(rate_fps)],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _lab(topo, **kwargs) -> MininetLab:
    from mininet.clean import cleanup

    cleanup()
    lab = MininetLab(topo, settings={**EDGE_SETTINGS, **kwargs.pop("settings", {})}, **kwargs)
    try:
        lab.start()
        lab.wait_until_ready()
    except BaseException:
        lab.stop()
        raise
    return lab


def _stop(lab: MininetLab) -> None:
    from mininet.clean import cleanup

    lab.stop()
    cleanup()


# --- checks -------------------------------------------------------------------------------
def check_packet_in_flood(seconds: float = 6.0, spoofed_macs: int = 50,
                          rate_fps: float = 70000) -> CheckResult:
    """h1 sends from `spoofed_macs` spoofed source MACs and floods unknown destinations at
    `rate_fps` frames/s (0: as fast as it can) for `seconds`; meanwhile h4 pings h3 (across h1's
    switch) and REST is read."""
    started = time.monotonic()
    lab = _lab(EdgeTopo())
    timings = {"lab_ready_s": time.monotonic() - started}
    try:
        assert lab.ping_all() == 0.0, "all-pairs ping failed before the flood"
        real_hosts = len(lab.rest("hosts"))
        rules_before = qroute_rules(lab)
        base_rtt, base_rest = rtt_ms(lab, "h4", "h3"), rest_ms(lab, count=40)
        timings["flood_start_s"] = time.monotonic() - started
        flood = send_frames(lab, "h1", seconds, spoofed=spoofed_macs, claim="mac:00:00:00:00:00:03",
                            rate_fps=rate_fps)
        time.sleep(0.5)
        flood_rtt, flood_rest = rtt_ms(lab, "h4", "h3", count=int((seconds - 1.5) / 0.05)), rest_ms(lab)
        connections = lab.openflow_connections()
        sent = int((flood.communicate(timeout=seconds + 30)[0] or "0").split()[-1])
        state = lab.rest("state")
        rules_during = qroute_rules(lab)
        meter = lab._ofctl("meter-stats", "s1")
        lab.wait_until_settled()
        timings["flood_end_s"] = time.monotonic() - started
        assert lab.ping_all() == 0.0, "all-pairs ping failed after the flood"
        timings["ping_all_after_s"] = time.monotonic() - started
    finally:
        log = lab.controller_log()
        _stop(lab)
    hosts, edge = len(state["hosts"]), state.get("edge", {})
    # each extra host at h1's port may cost a classify rule in each switch and a delivery rule
    # at s1; a blocked port two drop rules; no new switch pair, so no new tunnel
    room = MAX_HOSTS_PER_PORT - 1
    bound = {s: n + room * (2 if s == "s1" else 1) + (2 if s == "s1" else 0)
             for s, n in rules_before.items()}
    p50 = {"rtt_base": _p50(base_rtt), "rtt_flood": _p50(flood_rtt),
           "rest_base": _p50(base_rest), "rest_flood": _p50(flood_rest)}
    dropped = sum(int(n) for n in re.findall(r"packet_count:(\d+)", meter.split("band", 1)[-1])) \
        if "band" in meter else None
    passed = (p50["rtt_flood"] <= 2 * p50["rtt_base"] and p50["rest_flood"] <= 2 * p50["rest_base"]
              and all(rules_during[s] <= bound[s] for s in bound)
              and hosts <= real_hosts + room and connections == 3 and len(state["switches"]) == 3
              and "disconnected" not in log)
    figure = (f"{sent} frames in {seconds:g} s ({sent / seconds:.0f}/s); h4->h3 RTT p50 "
              f"{p50['rtt_base']:.2f} -> {p50['rtt_flood']:.2f} ms ({len(flood_rtt)} replies), REST p50 "
              f"{p50['rest_base']:.1f} -> {p50['rest_flood']:.1f} ms; hosts {hosts} (real {real_hosts}); "
              f"qroute rules {rules_during} (bound {bound}); OpenFlow connections during the flood "
              f"{connections}/3, switch disconnects logged {log.count('disconnected')}; "
              f"refused {edge.get('hosts_refused')}; "
              f"ports blocked {edge.get('ports_blocked_total')}; meter drops {dropped}")
    return CheckResult(
        "packet-in flood and spoofed sources",
        "other hosts' RTT p50 and REST p50 at most 2x baseline, rules per switch within the "
        "limits' bound, hosts at most the real ones + max_hosts_per_port - 1, every switch stays "
        "connected, all-pairs ping passes after", figure, passed,
        {"frames_sent": sent, **p50, "rtt_flood_replies": len(flood_rtt), "hosts": hosts,
         "real_hosts": real_hosts, "rules_before": rules_before, "rules_during": rules_during,
         "rule_bound": bound, "connections": connections, "edge": edge,
         "meter_dropped_packets": dropped, "timings": timings})


def check_ip_takeover(seconds: float = 3.0) -> CheckResult:
    """h2 claims h3's IP (ARP from its own MAC) and h1 sends from h3's MAC while h4 pings h3."""
    lab = _lab(EdgeTopo())
    try:
        assert lab.ping_all() == 0.0, "all-pairs ping failed before the claims"
        h3 = lab.host("h3")
        stream = lab.start_ping_stream("h4", "h3", count=int((seconds + 2) * 50), interval_s=0.02)
        claim_ip = send_frames(lab, "h2", seconds, claim=f"ip:{h3.IP()}")
        claim_mac = send_frames(lab, "h1", seconds, claim=f"mac:{h3.MAC()}")
        claim_ip.communicate(timeout=seconds + 20)
        claim_mac.communicate(timeout=seconds + 20)
        result = lab.finish_ping_stream(stream)
        lab.host("h4").cmd("ip neigh flush all")
        after = rtt_ms(lab, "h4", "h3", count=5, interval_s=0.2)
        state = lab.rest("state")
    finally:
        _stop(lab)
    holder = next((h for h in state["hosts"] if h["ip"] == "10.0.0.3"), None)
    at = next((h for h in state["hosts"] if h["mac"] == "00:00:00:00:00:03"), None)
    refused = state.get("edge", {}).get("hosts_refused", {})
    passed = (holder is not None and holder["mac"] == "00:00:00:00:00:03"
              and at is not None and at["dpid"] == 3 and result.lost == 0 and len(after) == 5
              and refused.get("ip_claim_answered", 0) >= 1 and refused.get("move_answered", 0) >= 1)
    figure = (f"h4->h3 stream: {result.lost} of {result.sent} lost during the claims; after an ARP "
              f"flush {len(after)}/5 replies; 10.0.0.3 held by {holder and holder['mac']}, h3's MAC at "
              f"s{at and at['dpid']}; refused {refused}")
    return CheckResult(
        "IP takeover refused",
        "a host claiming another's IP, and one sending from another's MAC, do not cut it off: 0 "
        "of its packets lost, its IP and MAC stay at its port, both claims refused and counted",
        figure, passed, {"lost": result.lost, "sent": result.sent, "after": len(after),
                         "holder": holder, "mac_at": at, "refused": refused})


def check_tls_channel() -> CheckResult:
    lab = _lab(EdgeTopo(), tls=True)
    try:
        targets = {f"s{n}": subprocess.run(["ovs-vsctl", "get-controller", f"s{n}"], capture_output=True,
                                           text=True).stdout.strip() for n in (1, 2, 3)}
        loss = lab.ping_all()
        connections = lab.openflow_connections()
        plain_answered = lab.openflow_hello_answered()
        switches = lab.rest("switches")
    finally:
        _stop(lab)
    passed = (loss == 0.0 and all(t.startswith("ssl:") for t in targets.values())
              and connections == 3 and not plain_answered and len(switches) == 3)
    figure = (f"targets {sorted(set(targets.values()))}; {len(switches)}/3 switches connected "
              f"({connections} TLS connections); "
              f"all-pairs ping loss {loss:g} %; a plain-TCP HELLO {'was' if plain_answered else 'was not'} "
              f"answered")
    return CheckResult("TLS channel", "every switch connects over TLS (ssl: target, certificates of "
                       "one CA), all-pairs ping passes, a plain-TCP OpenFlow client is not answered",
                       figure, passed, {"targets": targets, "loss": loss, "connections": connections,
                                        "plain_tcp_answered": plain_answered})


def check_dpid_takeover(hold_s: float = 5.0) -> CheckResult:
    """A fake switch claims s1's dpid while s1 is connected and a h4->h3 stream crosses s1;
    then s1's own connection is cut and the fake's second try finds the dpid free."""
    lab = _lab(EdgeTopo())
    try:
        assert lab.ping_all() == 0.0
        stream = lab.start_ping_stream("h4", "h3", count=int(hold_s * 100), interval_s=0.01)
        fake = FakeSwitch(lab.of_port, 1).start()
        time.sleep(hold_s)
        result = lab.finish_ping_stream(stream)
        refused_after = None if fake.closed_at is None else fake.closed_at - fake.opened_at
        connections = lab.openflow_connections()  # s1-s3 (the fake's is closed)
        state = lab.rest("state")
        fake.close()
        log = lab.controller_log()
        s1_left = "switch 0000000000000001 disconnected" in log
        # s1 gone (its controller removed): a newcomer for dpid 1 is let in
        target = subprocess.run(["ovs-vsctl", "get-controller", "s1"], capture_output=True,
                                text=True).stdout.strip()
        subprocess.run(["ovs-vsctl", "del-controller", "s1"], check=True)
        deadline = time.monotonic() + 10
        while 1 in lab.rest("switches") and time.monotonic() < deadline:
            time.sleep(0.1)
        second = FakeSwitch(lab.of_port, 1).start()
        deadline = time.monotonic() + 5
        while 1 not in lab.rest("switches") and time.monotonic() < deadline:
            time.sleep(0.1)
        accepted = 1 in lab.rest("switches") and second.closed_at is None
        second.close()
        subprocess.run(["ovs-vsctl", "set-controller", "s1", target], check=True)
        started = time.monotonic()
        lab.wait_until_ready(timeout=30)
        back_s = time.monotonic() - started
    finally:
        _stop(lab)
    refused = state.get("edge", {}).get("dpid_takeovers_refused", 0)
    passed = (refused_after is not None and refused >= 1 and result.lost == 0
              and connections == 3 and not s1_left
              and accepted)
    figure = (f"fake connection for dpid 1 closed after "
              f"{'never' if refused_after is None else f'{refused_after:.2f} s'}; refusals counted "
              f"{refused}; h4->h3 lost {result.lost} of {result.sent}; OpenFlow connections after "
              f"{connections}/3, s1 disconnect logged: {s1_left}; with s1 gone a newcomer was "
              f"accepted: {accepted}; s1 back "
              f"and links rediscovered {back_s:.1f} s after its controller was restored")
    return CheckResult("dpid takeover refused",
                       "a second connection for a connected dpid is closed and counted, the first "
                       "stays up and loses no packet; with the first gone a newcomer is accepted",
                       figure, passed, {"closed_after_s": refused_after, "refused": refused,
                                        "lost": result.lost, "sent": result.sent,
                                        "connections": connections, "accepted_when_gone": accepted,
                                        "back_s": back_s})


CHECKS = (check_packet_in_flood, check_ip_takeover, check_tls_channel, check_dpid_takeover)


def main() -> int:
    failed = 0
    for check in CHECKS:
        result = check()
        failed += not result.passed
        print(f"{'PASS' if result.passed else 'FAIL'}  {result.name}: {result.figure}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
