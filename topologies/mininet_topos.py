"""Mininet topologies for qroute (the only module in topologies/ that imports Mininet).

    sudo mn --custom topologies/mininet_topos.py --topo abilene --link tc \
        --controller remote,ip=127.0.0.1,port=6653 \
        --switch ovs,protocols=OpenFlow13,datapath=user

`datapath=user` selects Open vSwitch's userspace datapath, for kernels without the openvswitch
module; drop it where the module is loaded. With the userspace datapath, turn checksum offload
off on every host (`ethtool -K hX-eth0 tx off`), or TCP and UDP fail while ping still works.

Switch sN has datapath id N; host hN hangs off switch sN with IP 10.0.0.N.
"""
import os
import sys

from mininet.link import TCLink
from mininet.topo import Topo

# `mn --custom` executes this file without __file__; the code object still knows its path.
_HERE = os.path.dirname(os.path.abspath(sys._getframe().f_code.co_filename))
if os.path.dirname(_HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(_HERE))

from topologies.abilene import ABILENE_LINKS, ABILENE_NODES  # noqa: E402
from topologies.catalog import MININET_CAPACITY_SCALE as ABILENE_SCALE  # noqa: E402


def host_of(node: int) -> str:
    """The Mininet host attached to network node ``node`` (switch s<node+1>, dpid node+1)."""
    return f"h{node + 1}"


def _add_host_per_switch(topo, count):
    for n in range(1, count + 1):
        switch = topo.addSwitch(f"s{n}", dpid=f"{n:016x}")
        host = topo.addHost(f"h{n}", ip=f"10.0.0.{n}/24", mac=f"00:00:00:00:00:{n:02x}")
        topo.addLink(host, switch)


class RingTopo(Topo):
    """n switches in a cycle (a loop for broadcast-storm and failover tests), a host on each."""

    def build(self, n=4, bw=None):
        if n < 3:
            raise ValueError("a ring needs at least 3 switches")
        _add_host_per_switch(self, n)
        opts = {"cls": TCLink, "bw": bw} if bw else {}
        for i in range(1, n + 1):
            self.addLink(f"s{i}", f"s{i % n + 1}", **opts)


class DiamondTopo(Topo):
    """Two equal paths between s1 and s4: s1-s2-s4 and s1-s3-s4. Hosts h1, h4 at the ends
    (and h2, h3 on the middle switches), for congestion and rerouting demos."""

    def build(self, bw=10):
        _add_host_per_switch(self, 4)
        for a, b in (("s1", "s2"), ("s2", "s4"), ("s1", "s3"), ("s3", "s4")):
            self.addLink(a, b, cls=TCLink, bw=bw)


class AbileneTopo(Topo):
    """The Abilene backbone: 12 routers, 15 bidirectional links, capacities scaled by
    ABILENE_SCALE (10 Gbit/s -> 10 Mbit/s, the 2.5 Gbit/s ATLA-IPLS link -> 2.5 Mbit/s)."""

    def build(self, scale=ABILENE_SCALE, shaped=True):
        _add_host_per_switch(self, len(ABILENE_NODES))
        seen = set()
        for link in ABILENE_LINKS:
            pair = frozenset((link.src, link.dst))
            if pair in seen:
                continue
            seen.add(pair)
            opts = {}
            if shaped:
                opts = {"cls": TCLink, "bw": link.capacity_kbps * 1e3 * scale / 1e6}
            self.addLink(f"s{link.src + 1}", f"s{link.dst + 1}", **opts)


topos = {
    "ring": RingTopo,
    "diamond": DiamondTopo,
    "abilene": AbileneTopo,
}
