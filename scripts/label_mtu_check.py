"""Does a full-size TCP stream survive an MPLS label vs a VLAN tag on OVS's userspace datapath?"""
import subprocess, sys, json, time
from mininet.net import Mininet
from mininet.node import OVSSwitch
from mininet.topo import LinearTopo
from mininet.log import setLogLevel

def run(kind):
    net = Mininet(topo=LinearTopo(2), switch=lambda name, **kw: OVSSwitch(name, datapath="user", protocols="OpenFlow13", failMode="secure", **kw), controller=None, autoSetMacs=True)
    net.start()
    h1, h2 = net.get("h1", "h2")
    for h in (h1, h2):
        h.cmd(f"ethtool -K {h.name}-eth0 tx off rx off >/dev/null 2>&1")
    s1, s2 = net.get("s1", "s2")
    # ports: s1: 1=h1 2=s2 ; s2: 1=h2 2=s1
    of = lambda sw, flow: subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flow", sw, flow], check=True)
    if kind == "mpls":
        of("s1", "in_port=1,ip,actions=push_mpls:0x8847,set_field:17->mpls_label,output:2")
        of("s2", "in_port=2,mpls,mpls_label=17,actions=pop_mpls:0x0800,output:1")
        of("s2", "in_port=1,ip,actions=push_mpls:0x8847,set_field:18->mpls_label,output:2")
        of("s1", "in_port=2,mpls,mpls_label=18,actions=pop_mpls:0x0800,output:1")
    else:
        of("s1", "in_port=1,ip,actions=push_vlan:0x8100,set_field:4113->vlan_vid,output:2")
        of("s2", "in_port=2,dl_vlan=17,actions=pop_vlan,output:1")
        of("s2", "in_port=1,ip,actions=push_vlan:0x8100,set_field:4114->vlan_vid,output:2")
        of("s1", "in_port=2,dl_vlan=18,actions=pop_vlan,output:1")
    for a, b in (("s1", 1), ("s2", 1)):
        pass
    of("s1", "arp,actions=flood"); of("s2", "arp,actions=flood")
    ping = h1.cmd("ping -c 3 -W 1 10.0.0.2 | tail -2")
    big = h1.cmd("ping -c 3 -W 1 -s 1472 -M do 10.0.0.2 | tail -2")
    h2.cmd("iperf3 -s -D -1 -p 5201")
    time.sleep(0.5)
    out = h1.cmd("iperf3 -c 10.0.0.2 -p 5201 -t 3 -J")
    try:
        r = json.loads(out)
        mbps = r["end"]["sum_received"]["bits_per_second"] / 1e6
    except Exception as e:
        mbps = f"fail {out[-300:]}"
    print(kind, "ping:", ping.strip().replace("\n", " | "), "\n  1500B ping:", big.strip().replace("\n", " | "), "\n  iperf3 TCP Mbps:", mbps, flush=True)
    net.stop()

setLogLevel("warning")
for kind in sys.argv[1:]:
    run(kind)
