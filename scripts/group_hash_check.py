"""How Open vSwitch's userspace datapath spreads one host pair over a weighted select group, and
what a group modification does to its counters.

    sudo /usr/bin/python3 scripts/group_hash_check.py

Mininet linear,2 (h1 - s1 - s2 - h2) on netdev bridges, no controller. s1's group 2 has two
buckets weighted 700/300, each pushing its own VLAN id onto the one link to s2, which pops both.
Prints the group's counters after 16 parallel iperf3 TCP streams, after 16 UDP streams, and right
after the group is modified to 500/500. Needs root, Open vSwitch running and nothing else in
Mininet (run it under the Mininet lock).
"""
from __future__ import annotations

import subprocess
import time

from label_mtu_check import add_flow, userspace_switch
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.topo import LinearTopo

BUCKETS = ("group_id=2,type=select,bucket=weight:{},actions=push_vlan:0x8100,set_field:4113->vlan_vid,"
           "output:2,bucket=weight:{},actions=push_vlan:0x8100,set_field:4114->vlan_vid,output:2")
FLOWS = [("s1", "in_port=1,dl_vlan=0xffff,dl_dst=00:00:00:00:00:02,actions=group:2"),
         ("s2", "in_port=2,dl_vlan=17,actions=pop_vlan,output:1"),
         ("s2", "in_port=2,dl_vlan=18,actions=pop_vlan,output:1"),
         ("s2", "in_port=1,actions=output:2"), ("s1", "in_port=2,actions=output:1"),
         ("s1", "arp,actions=flood"), ("s2", "arp,actions=flood")]


def ofctl(*args: str) -> str:
    return subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", *args], check=True, capture_output=True,
                          text=True).stdout


def main() -> None:
    setLogLevel("warning")
    net = Mininet(topo=LinearTopo(2), switch=userspace_switch, controller=None, autoSetMacs=True)
    net.start()
    try:
        h1, h2 = net.get("h1", "h2")
        for host in (h1, h2):
            host.cmd(f"ethtool -K {host.name}-eth0 tx off rx off >/dev/null 2>&1")
        ofctl("add-group", "s1", BUCKETS.format(700, 300))
        for switch, flow in FLOWS:
            add_flow(switch, flow)
        h2.cmd("iperf3 -s -D -p 5201")
        time.sleep(0.5)
        for label, udp in (("16 TCP streams, weights 700/300", ""),
                           ("16 UDP streams, weights 700/300", "-u")):
            ofctl("mod-group", "s1", BUCKETS.format(700, 300))  # counters back to 0 (see below)
            h1.cmd(f"iperf3 -c 10.0.0.2 -p 5201 {udp} -b 20M -t 3 -P 16 -l 1200 >/dev/null")
            print(f"{label}:\n{ofctl('dump-group-stats', 's1').strip()}", flush=True)
        ofctl("mod-group", "s1", BUCKETS.format(500, 500))
        print(f"right after a modification to 500/500:\n{ofctl('dump-group-stats', 's1').strip()}")
        h2.cmd("pkill -f 'iperf3 -s -D -p 5201'")
    finally:
        net.stop()


if __name__ == "__main__":
    main()
