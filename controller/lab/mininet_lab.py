"""A real lab for tests and the demo: Open vSwitch (userspace datapath), Mininet hosts, and the
qroute controller started as a real `ryu-manager` process. Needs root.

    with MininetLab(AbileneTopo()) as lab:
        lab.wait_until_ready()
        print(lab.ping_all())
"""
from __future__ import annotations

import codecs
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import mininet.node
from mininet.link import TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController

# Mininet decodes its node shells' output as strict UTF-8 and dies on the first stray byte
# (seen once in ten lab starts); a replacement character is harmless there.
mininet.node.getincrementaldecoder = partial(codecs.getincrementaldecoder("utf-8"),
                                             errors="replace")

REPO_ROOT = Path(__file__).resolve().parents[2]
OVS_START = REPO_ROOT / "scripts" / "ovs-start"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PingStream:
    """A ping stream's result: which sequence numbers came back."""

    sent: int
    received: set[int]
    interval_s: float

    @property
    def lost(self) -> int:
        return self.sent - len(self.received)

    @property
    def outage_s(self) -> float:
        """Longest run of consecutive lost replies, in seconds."""
        longest = run = 0
        for seq in range(1, self.sent + 1):
            run = 0 if seq in self.received else run + 1
            longest = max(longest, run)
        return longest * self.interval_s


class MininetLab:
    def __init__(self, topo, settings: dict | None = None, log_path: str | None = None,
                 controller_start_timeout: float = 30.0, tls: bool = False,
                 bfd_ms: int | None = None):
        self.topo = topo
        self.bfd_ms = bfd_ms  # BFD on every inter-switch link at this interval (enable_bfd)
        # a token of its own, so that the lab (and no one else) can write through the REST API;
        # a state file of its own, which a restarted controller of this lab (and no other) reads
        self.settings = {"stats_interval": "1.0", "api_token": secrets.token_urlsafe(16),
                         "state_file": os.path.join(tempfile.mkdtemp(prefix="qroute-lab-state-"),
                                                    "state.json"),
                         **(settings or {})}
        self.of_port = free_port()
        self.rest_port = free_port()
        self.log_path = log_path or os.path.join(tempfile.mkdtemp(prefix="qroute-lab-"), "controller.txt")
        self.controller_start_timeout = controller_start_timeout
        # tls: the OpenFlow channel over TLS, each side checked against a CA made for the lab
        # (controller.lab.tls); the controller then listens for TLS alone on of_port
        self.tls = None
        if tls:
            from controller.lab.tls import make_tls_files

            self.tls = make_tls_files(tempfile.mkdtemp(prefix="qroute-tls-"))
        self.controller: subprocess.Popen | None = None
        self.net: Mininet | None = None
        self._config_path: str | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if os.geteuid() != 0:
            raise PermissionError("the Mininet lab needs root")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        subprocess.run([str(OVS_START)], check=True)
        setLogLevel("warning")
        self._start_controller()
        switch = partial(OVSSwitch, datapath="user", protocols="OpenFlow13")
        if self.tls:
            subprocess.run(self.tls.ovs_set_ssl(), check=True)
        self.net = Mininet(topo=self.topo, switch=switch, controller=self._controllers(), link=TCLink,
                           autoSetMacs=False, waitConnected=False)
        self.net.start()
        for host in self.net.hosts:
            # The userspace datapath does not fill in offloaded checksums: without this,
            # TCP and UDP between hosts fail while ping works.
            host.cmd(f"ethtool -K {host.defaultIntf()} tx off rx off")
        if self.bfd_ms:
            self.enable_bfd(self.bfd_ms)

    def _controllers(self):
        """What Mininet connects every switch to (a list: to each of them)."""
        return partial(RemoteController, ip="127.0.0.1", port=self.of_port,
                       protocol="ssl" if self.tls else "tcp")

    def stop(self):
        if self.net is not None:
            try:
                self.net.stop()
            finally:
                self.net = None
        if self.tls:
            subprocess.run(["ovs-vsctl", "del-ssl"], check=False)
        if self.controller is not None:
            self.controller.terminate()
            try:
                self.controller.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.controller.kill()
            self.controller = None
        if self._config_path:
            os.unlink(self._config_path)
            self._config_path = None

    def _start_controller(self, append_log: bool = False):
        if self._config_path is None:
            with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as config:
                config.write("[qroute]\n")
                for key, value in self.settings.items():
                    config.write(f"{key} = {value}\n")
                self._config_path = config.name
        listen = (["--ofp-ssl-listen-port", str(self.of_port), *self.tls.ryu_arguments()]
                  if self.tls else ["--ofp-tcp-listen-port", str(self.of_port)])
        command = [sys.executable, "-m", "controller.launcher", *listen,
                   "--wsapi-port", str(self.rest_port),
                   "--config-file", self._config_path]
        log = open(self.log_path, "a" if append_log else "w")
        self.controller = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log,
                                           stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.controller_start_timeout
        while time.monotonic() < deadline:
            if self.controller.poll() is not None:
                raise RuntimeError(f"controller exited: {self.controller_log()[-2000:]}")
            try:
                self.rest("switches")
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"controller did not start; log: {self.log_path}")

    def restart_controller(self, kill: bool = True, down_s: float = 2.0,
                           reconnect_backoff_ms: int = 500, late: Sequence[str] = (),
                           late_s: float = 3.0) -> float:
        """Stop the controller (``kill -9`` with `kill`, else SIGTERM), leave the switches
        without it for `down_s` seconds, and start it again with the same config, ports and
        state file; returns the seconds from the stop until its REST API answered again. The
        switches are first told to retry the controller every `reconnect_backoff_ms` at most
        (Open vSwitch backs off to 8 s by default). The switches named in `late` are pointed
        at a closed port with the stop and get their controller back `late_s` seconds after
        the start (their fail mode is secure: they keep forwarding by their rules meanwhile)."""
        targets = {name: subprocess.run(["ovs-vsctl", "get-controller", name], capture_output=True,
                                        text=True, check=True).stdout.split() for name in late}
        for switch in self.net.switches:
            uuid = subprocess.run(["ovs-vsctl", "get", "bridge", switch.name, "controller"],
                                  capture_output=True, text=True, check=True).stdout.strip("[] \n")
            for record in filter(None, (part.strip() for part in uuid.split(","))):
                subprocess.run(["ovs-vsctl", "set", "controller", record,
                                f"max_backoff={max(1000, reconnect_backoff_ms)}"], check=True)
        stopped = time.monotonic()
        self.controller.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        for name in late:  # a closed port: deleting its last controller flushed a bridge here
            subprocess.run(["ovs-vsctl", "set-controller", name, "tcp:127.0.0.1:9"], check=True)
        self.controller.wait(timeout=10)
        self.controller = None
        time.sleep(down_s)
        self._start_controller(append_log=True)
        answered = time.monotonic() - stopped
        if late:
            time.sleep(late_s)
            for name, target in targets.items():
                subprocess.run(["ovs-vsctl", "set-controller", name, *target], check=True)
        return answered

    def qroute_flows(self, switch: str) -> dict[tuple, dict]:
        """The switch's qroute rules, read from the switch itself: {(table, priority, match):
        {"cookie", "duration_s", "n_packets", "actions"}}."""
        out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", switch,
                              "cookie=0x71726f7500000000/0xffffffff00000000"],
                             capture_output=True, text=True, check=True).stdout
        flows = {}
        for line in out.splitlines():
            found = re.search(r"cookie=(0x[0-9a-f]+), duration=([\d.]+)s, table=(\d+), "
                              r"n_packets=(\d+), n_bytes=\d+, (?:\S+=\S+, )*?priority=(\d+),?(\S*) "
                              r"actions=(\S*)", line)
            if found:
                cookie, duration, table, packets, priority, match, actions = found.groups()
                flows[(int(table), int(priority), match)] = {
                    "cookie": int(cookie, 16), "duration_s": float(duration),
                    "n_packets": int(packets), "actions": actions}
        return flows

    def controller_log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    # --- observation ----------------------------------------------------------------------
    def rest(self, part: str = "state"):
        url = f"http://127.0.0.1:{self.rest_port}/qroute/v1/{part}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    def openflow_hello_answered(self, timeout: float = 3.0) -> bool:
        """Whether a plain-TCP client that sends an OpenFlow 1.3 HELLO to the controller's
        OpenFlow port gets one back (over TLS it must not)."""
        hello = bytes([4, 0, 0, 8, 0, 0, 0, 1])
        with socket.create_connection(("127.0.0.1", self.of_port), timeout=timeout) as sock:
            sock.sendall(hello)
            try:
                reply = sock.recv(8)
            except (TimeoutError, OSError):
                return False
        return len(reply) == 8 and reply[0] == 4 and reply[1] == 0

    def openflow_connections(self) -> int:
        """Established connections to the controller's OpenFlow port, counted by the kernel
        (ss), independently of what the controller or the bridges report."""
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{self.of_port} )"],
                             capture_output=True, text=True, check=True).stdout
        return sum(1 for line in out.splitlines() if line.strip())

    def expected_directed_links(self) -> int:
        return 2 * sum(1 for a, b in self.topo.links()
                       if self.topo.isSwitch(a) and self.topo.isSwitch(b))

    def wait_until_ready(self, timeout: float = 60.0) -> float:
        """Wait until every switch is connected and every link discovered; returns seconds."""
        started = time.monotonic()
        want_switches = len(self.topo.switches())
        want_links = self.expected_directed_links()
        while time.monotonic() - started < timeout:
            state = self.rest("state")
            if len(state["switches"]) == want_switches and len(state["links"]) == want_links:
                return time.monotonic() - started
            time.sleep(0.25)
        state = self.rest("state")
        raise TimeoutError(f"topology not discovered in {timeout}s: {len(state['switches'])}/"
                           f"{want_switches} switches, {len(state['links'])}/{want_links} links")

    def wait_for_all_links(self, timeout: float = 20.0) -> int:
        """Wait until the controller knows every link of the topology again (after a link came
        back up, LLDP has to rediscover it); returns how many directed links it knows."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.rest("links")) < self.expected_directed_links():
            time.sleep(0.25)
        self.wait_until_settled(max(0.0, deadline - time.monotonic()))
        return len(self.rest("links"))

    def wait_until_settled(self, timeout: float = 10.0) -> bool:
        """Wait until the controller has no route decision asked for or running (its event
        handlers only ask for one; the rerouting greenthread runs it a little later)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.rest("state")["rerouting"]:
                return True
            time.sleep(0.1)
        return False

    def require_policy(self, name: str) -> None:
        """Raise unless the controller runs policy ``name`` (a learned policy whose checkpoint
        cannot be used falls back to shortest path: its figures must not go under its name)."""
        state = self.rest("state")
        if state["policy_problem"] or state["policy_name"] != name:
            raise RuntimeError(f"policy {name} is not running: {state['policy_problem'] or state['policy']}")

    def host(self, name: str):
        return self.net.get(name)

    def ping_all(self, timeout: str = "1") -> float:
        """Percentage of host pairs that could not reach each other (Mininet's pingAll), once
        the controller has settled: the decision for the hosts the sweep taught it may still be
        running when the last ping returns, and callers read paths and counters next."""
        loss = self.net.pingAll(timeout=timeout)
        self.wait_until_settled()
        return loss

    def split_between(self, src_host: str, dst_host: str,
                      state: dict | None = None) -> list[tuple[list[int], float]]:
        """The installed split of the switch pair the two hosts attach to: (path, weight) per
        tunnel, heaviest first ([] when none is installed or a host is not known yet); read
        from `state` (the REST state) when given, else from the controller."""
        state = state or self.rest("state")
        switch_of = {host["mac"]: host["dpid"] for host in state["hosts"]}
        ends = (switch_of.get(self.host(src_host).MAC()), switch_of.get(self.host(dst_host).MAC()))
        for entry in state["pairs"]:
            if (entry["src"], entry["dst"]) == ends:
                return sorted(((p["path"], p["weight"]) for p in entry["paths"]), key=lambda pw: -pw[1])
        return []

    def path_between(self, src_host: str, dst_host: str) -> list[int] | None:
        """The heaviest installed path between two hosts' switches (None when none is)."""
        split = self.split_between(src_host, dst_host)
        return split[0][0] if split else None

    def rest_write(self, method: str, part: str, body=None) -> tuple[int, dict]:
        """A REST write with the lab's token: (HTTP status, JSON reply), errors included."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rest_port}/qroute/v1/{part}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.settings['api_token']}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def wait_for_split(self, src_host: str, dst_host: str, split: list[tuple[list[int], float]],
                       timeout: float = 10.0) -> bool:
        """Whether the installed split between two hosts' switches becomes `split` (paths and
        weights, heaviest first; weights within 1e-6) before the timeout."""
        def same(installed):
            return len(installed) == len(split) and all(
                path == want_path and abs(weight - want_weight) < 1e-6
                for (path, weight), (want_path, want_weight) in zip(installed, split))

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.rest("state")
            if same(self.split_between(src_host, dst_host, state)) and not state["rerouting"]:
                return True
            time.sleep(0.05)
        return False

    def wait_for_path(self, src_host: str, dst_host: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            path = self.path_between(src_host, dst_host)
            if path:
                return path
            time.sleep(0.2)
        raise TimeoutError(f"no path installed from {src_host} to {dst_host}")

    def set_link(self, dpid_a: int, dpid_b: int, up: bool):
        self.net.configLinkStatus(f"s{dpid_a}", f"s{dpid_b}", "up" if up else "down")

    # --- silent link death, BFD, a stopped controller (local protection) -------------------
    def link_interfaces(self, dpid_a: int, dpid_b: int) -> tuple[str, str]:
        """The interfaces of the link sA-sB: (the one on sA, the one on sB)."""
        a, b = self.net.get(f"s{dpid_a}"), self.net.get(f"s{dpid_b}")
        (link, *_) = self.net.linksBetween(a, b)
        return ((link.intf1.name, link.intf2.name) if link.intf1.node is a
                else (link.intf2.name, link.intf1.name))

    def switch_link_interfaces(self) -> list[str]:
        return [name for link in self.net.links
                if isinstance(link.intf1.node, OVSSwitch) and isinstance(link.intf2.node, OVSSwitch)
                for name in (link.intf1.name, link.intf2.name)]

    def enable_bfd(self, min_tx_ms: int = 10, min_rx_ms: int | None = None) -> None:
        """BFD on both ends of every inter-switch link (Open vSwitch detects a dead session
        after 3 x the negotiated interval and the port stops being live for fast-failover
        groups). The controller cannot configure BFD over OpenFlow; on a real network run the
        same `ovs-vsctl set interface` on each switch."""
        rx = min_rx_ms or min_tx_ms
        for name in self.switch_link_interfaces():
            subprocess.run(["ovs-vsctl", "set", "interface", name, "bfd:enable=true",
                            f"bfd:min_tx={min_tx_ms}", f"bfd:min_rx={rx}"], check=True)

    def bfd_state(self, interface: str) -> dict[str, str]:
        out = subprocess.run(["ovs-vsctl", "get", "interface", interface, "bfd_status"],
                             capture_output=True, text=True, check=True).stdout
        return dict(re.findall(r'(\w+)="?([^",}]*)"?', out))

    def set_link_silent(self, dpid_a: int, dpid_b: int, silent: bool) -> None:
        """Every frame on the link sA-sB lost, both ways, while both carriers stay up (no
        port-status): see :mod:`controller.lab.silent_link`."""
        from controller.lab.silent_link import set_silent

        set_silent(*self.link_interfaces(dpid_a, dpid_b), silent=silent)

    def pause_controller(self, paused: bool) -> None:
        """SIGSTOP (the controller decides nothing, answers nothing) or SIGCONT."""
        self.controller.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    # --- traffic --------------------------------------------------------------------------
    def start_ping_stream(self, src: str, dst: str, count: int, interval_s: float = 0.01):
        target = self.host(dst).IP()
        process = self.host(src).popen(
            ["ping", "-n", "-i", str(interval_s), "-c", str(count), "-W", "1", target],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return process, count, interval_s

    @staticmethod
    def finish_ping_stream(stream, timeout: float = 120.0) -> PingStream:
        process, count, interval_s = stream
        output, _ = process.communicate(timeout=timeout)
        received = {int(m) for m in re.findall(r"icmp_seq=(\d+)", output)}
        return PingStream(sent=count, received=received, interval_s=interval_s)

    def start_iperf3_server(self, host: str, port: int, one_test: bool = True):
        """An iperf3 server on `host` that serves one test and exits (or, without `one_test`,
        serves tests one after another until terminated)."""
        return self.host(host).popen(["iperf3", "-s", *(["-1"] if one_test else []), "-p", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_iperf3_client(self, client: str, server: str, port: int, seconds: float,
                            udp_mbps: float | None = None, datagram_bytes: int | None = None,
                            streams: int = 1, paced_mbps: float | None = None):
        """An iperf3 client (JSON report on stdout); TCP unless `udp_mbps` gives a UDP rate (of
        each of its `streams` parallel streams, each its own socket and so its own transport
        flow); `paced_mbps` paces each TCP stream to that rate. `datagram_bytes`: the size of
        each write (iperf3's -l)."""
        args = ["iperf3", "-c", self.host(server).IP(), "-p", str(port), "-t", f"{seconds:g}", "-J"]
        if udp_mbps:
            args += ["-u", "-b", f"{udp_mbps * 1e6:.0f}"]  # bit/s: slow streams keep their rate
        elif paced_mbps:
            args += ["-b", f"{paced_mbps * 1e6:.0f}"]
        if datagram_bytes:
            args += ["-l", str(datagram_bytes)]
        if streams > 1:
            args += ["-P", str(streams)]
        return self.host(client).popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)

    def iperf3(self, client: str, server: str, seconds: float = 3.0, udp_mbps: float | None = None) -> dict:
        """Run iperf3 between two hosts; returns iperf3's JSON result."""
        port = 5201
        srv = self.start_iperf3_server(server, port)
        try:
            time.sleep(0.5)
            result = self.start_iperf3_client(client, server, port, seconds, udp_mbps)
            out, err = result.communicate(timeout=seconds + 20)
            return json.loads(out) if out.strip() else {"error": err}
        finally:
            srv.terminate()
            srv.wait(timeout=5)

    @staticmethod
    def _ofctl(command: str, switch: str) -> str:
        return subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", command, switch],
                              capture_output=True, text=True, check=True).stdout

    def dump_flows(self, switch: str) -> str:
        return self._ofctl("dump-flows", switch)

    def dump_groups(self, switch: str) -> str:
        return self._ofctl("dump-groups", switch)

    def bucket_bytes(self, switch: str) -> dict[int, dict[int, int]]:
        """{group id: {VLAN id its bucket pushes: bytes the bucket sent}}, read from the switch
        itself (ovs-ofctl), not from the controller."""
        labels = {}
        for group in re.finditer(r"group_id=(\d+),type=select,(.*)", self.dump_groups(switch)):
            labels[int(group.group(1))] = [int(v) & 0xFFF for v in
                                           re.findall(r"set_field:(\d+)->vlan_vid", group.group(2))]
        counts = {}
        for group in re.finditer(r"group_id=(\d+),.*", self._ofctl("dump-group-stats", switch)):
            buckets = [int(b) for b in re.findall(r"bucket\d+:packet_count=\d+,byte_count=(\d+)",
                                                  group.group(0))]
            counts[int(group.group(1))] = dict(zip(labels.get(int(group.group(1)), []), buckets))
        return counts


@dataclass
class FailoverResult:
    failed_link: tuple[int, int]
    path_before: list[int]
    path_after: list[int] | None
    stream: PingStream

    @property
    def outage_s(self) -> float:
        return self.stream.outage_s


def measure_failover(lab: MininetLab, src: str, dst: str, rate_pps: int = 100,
                     before_s: float = 2.0, after_s: float = 3.0) -> FailoverResult:
    """Send a ping stream from src to dst, take down the first link of its path after
    `before_s`, and measure the longest run of lost replies. The link stays down."""
    path = lab.wait_for_path(src, dst)
    if len(path) < 2:
        raise ValueError(f"{src} and {dst} share a switch: no link to fail")
    link = (path[0], path[1])
    count = int((before_s + after_s) * rate_pps)
    stream = lab.start_ping_stream(src, dst, count=count, interval_s=1.0 / rate_pps)
    time.sleep(before_s)
    lab.set_link(*link, up=False)
    result = lab.finish_ping_stream(stream)
    return FailoverResult(link, path, lab.path_between(src, dst), result)
