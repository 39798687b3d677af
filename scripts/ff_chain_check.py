"""Measure, on Open vSwitch's userspace datapath, whether a select group's bucket can chain
into a fast-failover group that switches to a backup VLAN label when its watched port dies,
and how long a 1,000 pps ping stream is cut: by a link taken down (carrier lost) and by a
silent link death (every frame dropped by XDP on both ends, carriers up) detected by BFD.
No controller: the rules are put in with ovs-ofctl. Needs root and Mininet; run under the Mininet lock.

    sudo .venv/bin/python scripts/ff_chain_check.py [--bfd-ms 10]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import time

from controller.lab.silent_link import set_silent
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch
from mininet.topo import Topo


class Diamond(Topo):
    # s1-s2-s4 primary, s1-s3-s4 backup; h1 on s1, h2 on s4
    def build(self):
        s = {n: self.addSwitch(f"s{n}", dpid=f"{n:016x}") for n in (1, 2, 3, 4)}
        self.addLink(s[1], s[2], port1=2, port2=1)
        self.addLink(s[1], s[3], port1=3, port2=1)
        self.addLink(s[2], s[4], port1=2, port2=2)
        self.addLink(s[3], s[4], port1=2, port2=3)
        self.addLink(self.addHost("h1", ip="10.0.0.1/24", mac="00:00:00:00:00:01"), s[1], port2=1)
        self.addLink(self.addHost("h2", ip="10.0.0.2/24", mac="00:00:00:00:00:02"), s[4], port2=1)


def ofctl(*args):
    return subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", *args], check=True,
                          capture_output=True, text=True).stdout


def install():
    ofctl("add-group", "s1", "group_id=4026531850,type=ff,"
          "bucket=watch_port:2,actions=output:2,"
          "bucket=watch_port:3,actions=set_field:4116->vlan_vid,output:3")  # 4096|20
    ofctl("add-group", "s1", "group_id=4,type=select,"
          "bucket=weight:1000,actions=push_vlan:0x8100,set_field:4106->vlan_vid,group:4026531850")
    ofctl("add-flow", "s1", "table=0,priority=20000,vlan_tci=0x0000/0x1fff,"
          "dl_dst=00:00:00:00:00:02,actions=group:4")
    ofctl("add-flow", "s1", "table=0,priority=100,in_port=3,dl_vlan=30,actions=pop_vlan,output:1")
    ofctl("add-flow", "s2", "table=0,priority=25000,dl_vlan=10,actions=output:2")
    ofctl("add-flow", "s3", "table=0,priority=25000,dl_vlan=20,actions=output:2")
    ofctl("add-flow", "s3", "table=0,priority=100,in_port=2,actions=output:1")
    ofctl("add-flow", "s4", "table=0,priority=25000,dl_vlan=10,actions=pop_vlan,output:1")
    ofctl("add-flow", "s4", "table=0,priority=25000,dl_vlan=20,actions=pop_vlan,output:1")
    # the way back: tagged 30 over s3 (the backup side, never failed here)
    ofctl("add-flow", "s4", "table=0,priority=100,in_port=1,"
          "actions=push_vlan:0x8100,set_field:4126->vlan_vid,output:3")


def stream(h1, seconds, fail, restore):
    count = int(seconds * 1000)
    proc = h1.popen(["ping", "-n", "-i", "0.001", "-c", str(count), "-W", "1", "10.0.0.2"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)
    started = time.monotonic()
    fail()
    time.sleep(seconds - 1.5)
    out, _ = proc.communicate(timeout=seconds + 10)
    restore()
    got = {int(m) for m in re.findall(r"icmp_seq=(\d+)", out)}
    longest = run = 0
    for seq in range(1, count + 1):
        run = 0 if seq in got else run + 1
        longest = max(longest, run)
    return longest, count - len(got), started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bfd-ms", type=int, default=10)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    setLogLevel("warning")
    subprocess.run(["./scripts/ovs-start"], check=True)
    net = Mininet(topo=Diamond(), switch=lambda name, **kw: OVSSwitch(
        name, datapath="user", protocols="OpenFlow13", failMode="secure", **kw),
        controller=None, autoSetMacs=False, waitConnected=False)
    net.start()
    try:
        h1, h2 = net.get("h1", "h2")
        for h in (h1, h2):
            h.cmd(f"ethtool -K {h.defaultIntf()} tx off rx off")
        h1.cmd("arp -s 10.0.0.2 00:00:00:00:00:02")
        h2.cmd("arp -s 10.0.0.1 00:00:00:00:00:01")
        install()
        print(h1.cmd("ping -c 3 -i 0.2 10.0.0.2").strip().splitlines()[-2])
        print(ofctl("dump-groups", "s1"))
        for trial in range(args.trials):
            lost = stream(h1, 3.0, lambda: net.get("s1").cmd("ip link set s1-eth2 down"),
                          lambda: net.get("s1").cmd("ip link set s1-eth2 up"))
            print(f"carrier down s1-eth2 trial {trial}: outage {lost[0]} ms, lost {lost[1]}")
            time.sleep(1.5)
        print(ofctl("dump-group-stats", "s1"))
        # silent death: BFD on both ends of s1-s2, then every frame on it dropped
        for intf in ("s1-eth2", "s2-eth1", "s1-eth3", "s3-eth1"):
            subprocess.run(["ovs-vsctl", "set", "interface", intf, "bfd:enable=true",
                            f"bfd:min_tx={args.bfd_ms}", f"bfd:min_rx={args.bfd_ms}"], check=True)
        time.sleep(3)
        print(subprocess.run(["ovs-appctl", "bfd/show", "s1-eth2"], capture_output=True, text=True).stdout)
        for trial in range(args.trials):
            lost = stream(h1, 4.0, lambda: set_silent("s1-eth2", "s2-eth1", silent=True),
                          lambda: set_silent("s1-eth2", "s2-eth1", silent=False))
            print(f"silent s1-s2 with BFD {args.bfd_ms} ms trial {trial}: "
                  f"outage {lost[0]} ms, lost {lost[1]}")
            time.sleep(3)
        print(subprocess.run(["ovs-appctl", "bfd/show", "s1-eth2"], capture_output=True, text=True).stdout)
    finally:
        net.stop()


if __name__ == "__main__":
    main()
