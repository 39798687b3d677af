"""Which tunnel label survives Open vSwitch's userspace datapath at full packet size: MPLS or VLAN?

    sudo /usr/bin/python3 scripts/label_mtu_check.py [mpls] [vlan]

Mininet linear,2 (h1 - s1 - s2 - h2) with netdev bridges and no controller; the rules push a
label at one switch and pop it at the other. For each label it prints an ordinary ping, a ping of
1500-byte IP packets with don't-fragment set, and iperf3 TCP throughput. Why it matters: the
userspace datapath sends through packet sockets, which let a frame be 4 bytes over the MTU only
when it carries an 802.1Q tag, so an MPLS frame of a full-size IP packet is dropped.
Needs root, Open vSwitch running and nothing else in Mininet (run it under the Mininet lock).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch
from mininet.topo import LinearTopo

# ports: s1 1 = h1, 2 = s2; s2 1 = h2, 2 = s1
RULES = {
    "mpls": [("s1", "in_port=1,ip,actions=push_mpls:0x8847,set_field:17->mpls_label,output:2"),
             ("s2", "in_port=2,mpls,mpls_label=17,actions=pop_mpls:0x0800,output:1"),
             ("s2", "in_port=1,ip,actions=push_mpls:0x8847,set_field:18->mpls_label,output:2"),
             ("s1", "in_port=2,mpls,mpls_label=18,actions=pop_mpls:0x0800,output:1")],
    "vlan": [("s1", "in_port=1,ip,actions=push_vlan:0x8100,set_field:4113->vlan_vid,output:2"),
             ("s2", "in_port=2,dl_vlan=17,actions=pop_vlan,output:1"),
             ("s2", "in_port=1,ip,actions=push_vlan:0x8100,set_field:4114->vlan_vid,output:2"),
             ("s1", "in_port=2,dl_vlan=18,actions=pop_vlan,output:1")],
}


def userspace_switch(name, **options):
    return OVSSwitch(name, datapath="user", protocols="OpenFlow13", failMode="secure", **options)


def add_flow(switch: str, flow: str) -> None:
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flow", switch, flow], check=True)


def check(label: str) -> None:
    net = Mininet(topo=LinearTopo(2), switch=userspace_switch, controller=None, autoSetMacs=True)
    net.start()
    try:
        h1, h2 = net.get("h1", "h2")
        for host in (h1, h2):  # the userspace datapath needs checksum offload off for TCP/UDP
            host.cmd(f"ethtool -K {host.name}-eth0 tx off rx off >/dev/null 2>&1")
        for switch, flow in RULES[label] + [("s1", "arp,actions=flood"), ("s2", "arp,actions=flood")]:
            add_flow(switch, flow)
        small = h1.cmd("ping -c 3 -W 1 10.0.0.2 | grep 'packet loss'").strip()
        full = h1.cmd("ping -c 3 -W 1 -s 1472 -M do 10.0.0.2 | grep 'packet loss'").strip()
        h2.cmd("iperf3 -s -D -1 -p 5201")
        time.sleep(0.5)
        report = h1.cmd("iperf3 -c 10.0.0.2 -p 5201 -t 3 -J")
        try:
            mbps = f"{json.loads(report)['end']['sum_received']['bits_per_second'] / 1e6:.0f}"
        except (ValueError, KeyError):
            mbps = "no report (" + report.strip()[-120:] + ")"
        print(f"{label}: ping: {small}\n  1500-byte IP packets: {full}\n  iperf3 TCP Mbit/s: {mbps}",
              flush=True)
    finally:
        net.stop()


if __name__ == "__main__":
    setLogLevel("warning")
    for name in sys.argv[1:] or ["mpls", "vlan"]:
        check(name)
