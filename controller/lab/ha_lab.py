"""``qroute lab ha``: controller high availability live. An etcd (Debian's etcd-server, on
loopback), two or three qroute controllers (``ryu-manager`` processes with their own OpenFlow
and REST ports and state files, the same settings and etcd), and a Mininet network whose every
switch connects to all of them: one is MASTER, the others SLAVE. The failover measurement
runs a 100 pps ping stream, ``kill -9``s the master and reports the packets lost and the
seconds until another controller is master and has read every switch back. Needs root
(``qroute lab ha``: controller.lab.ha_failover).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from functools import partial

from controller.lab.mininet_lab import REPO_ROOT, MininetLab, free_port


@dataclass
class ControllerInstance:
    name: str
    of_port: int
    rest_port: int
    log_path: str
    config_path: str
    process: subprocess.Popen | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rest(self, part: str, timeout: float = 2.0):
        url = f"http://127.0.0.1:{self.rest_port}/qroute/v1/{part}"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())


class HaLab(MininetLab):
    """A MininetLab with `controllers` controllers under one etcd; ``rest()`` (and the base
    class's helpers built on it) asks the master once :meth:`master` found one."""

    def __init__(self, topo, controllers: int = 3, leader_ttl: int = 3, settings: dict | None = None,
                 **kwargs):
        if not 2 <= controllers <= 3:
            raise ValueError(f"{controllers} controllers: the HA lab runs 2 or 3")
        super().__init__(topo, settings={"leader_ttl": str(leader_ttl), **(settings or {})}, **kwargs)
        self.count = controllers
        self.etcd = None
        self.instances: list[ControllerInstance] = []
        self.folder = tempfile.mkdtemp(prefix="qroute-ha-lab-")

    # --- lifecycle ------------------------------------------------------------------------
    def _start_controller(self, append_log: bool = False):
        from controller.lab.etcd_server import EtcdServer

        self.etcd = EtcdServer()
        self.etcd.start()
        for number in range(1, self.count + 1):
            name = f"c{number}"
            settings = {**self.settings, "etcd_endpoint": f"http://127.0.0.1:{self.etcd.port}",
                        "controller_id": name,
                        "state_file": os.path.join(self.folder, f"{name}-state.json")}
            config_path = os.path.join(self.folder, f"{name}.conf")
            with open(config_path, "w") as config:
                config.write("[qroute]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
            instance = ControllerInstance(name, free_port(), free_port(),
                                          os.path.join(self.folder, f"{name}.log"), config_path)
            self.instances.append(instance)
            self.start_instance(instance)
        self.of_port, self.rest_port = self.instances[0].of_port, self.instances[0].rest_port
        self.log_path = self.instances[0].log_path

    def start_instance(self, instance: ControllerInstance, append_log: bool = False) -> None:
        command = [sys.executable, "-m", "controller.launcher",
                   "--ofp-tcp-listen-port", str(instance.of_port),
                   "--wsapi-port", str(instance.rest_port), "--config-file", instance.config_path]
        log = open(instance.log_path, "a" if append_log else "w")
        instance.process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.controller_start_timeout
        while time.monotonic() < deadline:
            if instance.process.poll() is not None:
                raise RuntimeError(f"controller {instance.name} exited: see {instance.log_path}")
            try:
                instance.rest("switches")
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"controller {instance.name} did not start; log: {instance.log_path}")

    def _start(self):
        super()._start()
        # a restarted controller is reconnected within a second (Open vSwitch backs off to 8 s)
        for switch in self.net.switches:
            records = subprocess.run(["ovs-vsctl", "get", "bridge", switch.name, "controller"],
                                     capture_output=True, text=True, check=True).stdout.strip("[] \n")
            for record in filter(None, (part.strip() for part in records.split(","))):
                subprocess.run(["ovs-vsctl", "set", "controller", record, "max_backoff=1000"],
                               check=True)

    def restart(self, instance: ControllerInstance, timeout: float = 20.0) -> float:
        """Start a stopped controller again (it joins as a standby); returns the seconds until
        every switch is connected to it and read back."""
        started = time.monotonic()
        self.start_instance(instance, append_log=True)
        want = len(self.topo.switches())
        while time.monotonic() - started < timeout:
            switches = instance.rest("resync")["switches"]
            if len(switches) == want and all(s["state"] == "read back" for s in switches.values()):
                return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(f"{instance.name}: not every switch read back within {timeout} s")

    def _controllers(self):
        from mininet.node import RemoteController

        return [partial(RemoteController, ip="127.0.0.1", port=instance.of_port)
                for instance in self.instances]

    def stop(self):
        try:
            super().stop()
        finally:
            for instance in self.instances:
                if instance.alive:
                    instance.process.terminate()
                    try:
                        instance.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        instance.process.kill()
            if self.etcd is not None:
                self.etcd.stop()
                self.etcd = None

    # --- the controllers ------------------------------------------------------------------
    def views(self) -> dict[str, dict]:
        """Each live controller's "ha" view (an unanswering one left out)."""
        found = {}
        for instance in self.instances:
            if instance.alive:
                try:
                    found[instance.name] = instance.rest("ha", timeout=1.0)
                except OSError:
                    pass
        return found

    def master(self) -> ControllerInstance | None:
        """The one live controller whose REST state says master (None when none or several
        do); the lab's REST helpers ask it from then on."""
        masters = [name for name, view in self.views().items() if view["role"] == "master"]
        if len(masters) != 1:
            return None
        instance = next(i for i in self.instances if i.name == masters[0])
        self.rest_port, self.of_port, self.log_path = instance.rest_port, instance.of_port, instance.log_path
        return instance

    def wait_for_master(self, timeout: float = 20.0) -> ControllerInstance:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.master()
            if found is not None:
                return found
            time.sleep(0.1)
        raise TimeoutError(f"no single master within {timeout} s: {self.views()}")

    def kill(self, instance: ControllerInstance) -> None:
        """``kill -9``: no resignation, the lease runs out."""
        instance.process.send_signal(signal.SIGKILL)
        instance.process.wait(timeout=10)

    def taken_over(self, dead: ControllerInstance, old_generation: int) -> ControllerInstance | None:
        """Another controller that is master with a newer generation and has read every
        switch back (its hold over), else None."""
        want = len(self.topo.switches())
        for instance in self.instances:
            if instance is dead or not instance.alive:
                continue
            try:
                view = instance.rest("ha", timeout=0.5)
                if view["role"] != "master" or view["generation"] <= old_generation:
                    continue
                resync = instance.rest("resync", timeout=0.5)
            except OSError:
                continue
            switches = resync["switches"]
            if resync["holding"] == "" and resync["hold_ended_s"] is not None and \
                    len(switches) == want and all(s["state"] == "read back" for s in switches.values()):
                return instance
        return None


def ping_stream(lab, src: str, dst: str, rate_pps: int, seconds: float, log_path: str):
    """A ``ping -D`` stream of `rate_pps` for `seconds` (by count, so that the last reply in
    flight is not cut off), its log in `log_path`."""
    with open(log_path, "w") as log:
        return lab.host(src).popen(["ping", "-n", "-D", "-i", f"{1 / rate_pps:g}", "-c",
                                    str(round(seconds * rate_pps)), "-W", "1", lab.host(dst).IP()],
                                   stdout=log, stderr=subprocess.STDOUT)


def failover_trial(lab: HaLab, src: str, dst: str, rate_pps: int = 100, before_s: float = 2.0,
                   after_s: float = 8.0, limit_s: float = 15.0) -> dict:
    """kill -9 of the master under a ping stream: lost packets and the seconds from the kill
    until another controller is master and has read every switch back."""
    from controller.lab.reliability_resync import _ping_log

    master = lab.wait_for_master()
    old = master.rest("ha")
    log_path = os.path.join(lab.folder, f"ping-{time.time():.0f}.txt")
    ping = ping_stream(lab, src, dst, rate_pps, before_s + after_s, log_path)
    time.sleep(before_s)
    killed = time.monotonic()
    lab.kill(master)
    successor, takeover_s = None, None
    while time.monotonic() - killed < limit_s:
        successor = lab.taken_over(master, old["generation"])
        if successor is not None:
            takeover_s = time.monotonic() - killed
            break
        time.sleep(0.05)
    ping.wait(timeout=before_s + after_s + 30)
    transmitted, received, gap = _ping_log(log_path)
    new = successor.rest("ha") if successor else {}
    if successor is not None:
        lab.master()
    return {"killed": master.name, "old_generation": old["generation"],
            "new_master": successor.name if successor else None,
            "new_generation": new.get("generation"), "takeover_s": takeover_s,
            "transmitted": transmitted, "received": received, "lost": transmitted - received,
            "longest_gap_ms": round(gap * 1000)}


def run_failovers(topology: str = "abilene", controllers: int = 3, trials: int = 3,
                  leader_ttl: int = 3, rate_pps: int = 100, src: str | None = None,
                  dst: str | None = None) -> dict:
    """`trials` failovers on one lab; the killed controller is started again (as a standby)
    before the next one."""
    import mininet.clean

    from topologies.mininet_topos import topos

    mininet.clean.cleanup()
    lab = HaLab(topos[topology](), controllers=controllers, leader_ttl=leader_ttl)
    try:
        lab.start()
        lab.wait_for_master()
        ready_s = lab.wait_until_ready()
        hosts = [host.name for host in lab.net.hosts]
        src, dst = src or hosts[0], dst or hosts[-1]
        lab.ping_all()
        lab.wait_until_settled()
        lab.wait_for_path(src, dst)
        results = []
        for _ in range(trials):
            result = failover_trial(lab, src, dst, rate_pps)
            results.append(result)
            killed = next(i for i in lab.instances if i.name == result["killed"])
            result["restarted_standby_ready_s"] = round(lab.restart(killed), 2)
        slave_view = {name: view for name, view in lab.views().items() if view["role"] == "slave"}
        return {"topology": topology, "controllers": controllers, "leader_ttl": leader_ttl,
                "rate_pps": rate_pps, "src": src, "dst": dst, "ready_s": round(ready_s, 2),
                "trials": results, "standbys": slave_view,
                "logs": {i.name: i.log_path for i in lab.instances}}
    finally:
        lab.stop()
        mininet.clean.cleanup()
