"""Mininet topologies for qroute (the only module in topologies/ that imports Mininet).

    sudo mn --custom topologies/mininet_topos.py --topo abilene --link tc \
        --controller remote,ip=127.0.0.1,port=6653 \
        --switch ovs,protocols=OpenFlow13,datapath=user

`--topo geant` builds GEANT from the data directory, `--topo graph,PATH` any topology file
(`topologies.files`), each link shaped to its capacity times MININET_CAPACITY_SCALE as for
Abilene (bandwidths outside MININET_BW_RANGE_MBPS are clamped, with a warning naming them).

`datapath=user` selects Open vSwitch's userspace datapath, for kernels without the openvswitch
module; drop it where the module is loaded. With the userspace datapath, turn checksum offload
off on every host (`ethtool -K hX-eth0 tx off`), or TCP and UDP fail while ping still works.

Switch sN has datapath id N (network node N-1); host hN hangs off switch sN with IP 10.0.0.N
(in 10.0.0.0/8 by N's bytes for networks of 255 switches or more).
"""
import json
import os
import subprocess
import sys

from mininet.link import TCLink
from mininet.topo import Topo

# `mn --custom` executes this file without __file__; the code object still knows its path.
_HERE = os.path.dirname(os.path.abspath(sys._getframe().f_code.co_filename))
if os.path.dirname(_HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(_HERE))

from topologies.abilene import ABILENE_LINKS, ABILENE_NODES  # noqa: E402
from topologies.catalog import MININET_BW_RANGE_MBPS, mininet_bandwidth  # noqa: E402
from topologies.catalog import MININET_CAPACITY_SCALE as ABILENE_SCALE  # noqa: E402


def host_of(node: int) -> str:
    """The Mininet host attached to network node ``node`` (switch s<node+1>, dpid node+1)."""
    return f"h{node + 1}"


def _host_address(n: int, count: int) -> str:
    if count < 255:
        return f"10.0.0.{n}/24"
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}/8"


# Open vSwitch's own choice of dpid: 0x0000 and a MAC address of the bridge (48 bits), far
# above the 32 bits of an OpenFlow group id (see controller.group_ids)
OVS_STYLE_DPID_BASE = 0x0000_0A1B_2C3D_4E00


def _add_host_per_switch(topo, count, dpid_base=0):
    for n in range(1, count + 1):
        switch = topo.addSwitch(f"s{n}", dpid=f"{dpid_base + n:016x}")
        host = topo.addHost(f"h{n}", ip=_host_address(n, count),
                            mac=f"00:00:00:00:{n >> 8 & 255:02x}:{n & 255:02x}")
        topo.addLink(host, switch)


class RingTopo(Topo):
    """n switches in a cycle (a loop for broadcast-storm and failover tests), a host on each."""

    def build(self, n=4, bw=None, dpid_base=0):
        if n < 3:
            raise ValueError("a ring needs at least 3 switches")
        _add_host_per_switch(self, n, dpid_base)
        opts = {"cls": TCLink, "bw": bw} if bw else {}
        for i in range(1, n + 1):
            self.addLink(f"s{i}", f"s{i % n + 1}", **opts)


class OvsDpidRingTopo(RingTopo):
    """The ring with dpids as Open vSwitch picks them by default (48-bit, from a MAC address)."""

    def build(self, n=4, bw=None):
        super().build(n, bw, dpid_base=OVS_STYLE_DPID_BASE)


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


def _link_facts(spec: str):
    """topologies.catalog.link_facts(spec, 1.0). Under a Python without numpy (Debian's
    /usr/bin/python3, which runs `mn`) the repository's .venv reads the file instead, so that
    every topology file is read by the one reader the controller uses."""
    from topologies.catalog import link_facts

    if os.path.isfile(spec):
        spec = os.path.abspath(spec)  # the .venv reader below runs in the repository root
    try:
        return link_facts(spec, 1.0)
    except ModuleNotFoundError as missing:
        venv = os.path.join(os.path.dirname(_HERE), ".venv")
        venv_python = os.path.join(venv, "bin", "python")
        if not os.path.exists(venv_python) or os.path.realpath(sys.prefix) == os.path.realpath(venv):
            raise
        found = subprocess.run([venv_python, "-m", "topologies.catalog", "link-facts", spec],
                               cwd=os.path.dirname(_HERE), capture_output=True, text=True)
        if found.returncode != 0:
            raise ValueError(found.stderr.strip() or f"cannot read {spec}") from missing
        return [tuple(fact) for fact in json.loads(found.stdout)]


class GraphTopo(Topo):
    """Any network: ``abilene``, ``geant`` or a topology file's path, a host per switch, node
    index i on switch s<i+1>. Each direction of a link is shaped to its own capacity times
    ``scale`` (TCLink's bw on the sending side), clamped into MININET_BW_RANGE_MBPS; the
    clamped links are in ``clamped`` and named in a warning."""

    def build(self, path=None, scale=ABILENE_SCALE, shaped=True):
        if path is None:
            raise ValueError("the graph topology needs a topology file: --topo graph,PATH")
        facts = _link_facts(str(path))
        capacity = {(src, dst): bps for src, dst, bps, _ in facts}
        _add_host_per_switch(self, max(max(src, dst) for src, dst in capacity))
        self.clamped = []
        for src, dst in sorted(capacity):
            if (dst, src) in capacity and dst < src:
                continue  # added from the other direction
            opts = {}
            if shaped:
                forward, forward_clamped = mininet_bandwidth(capacity[(src, dst)], scale)
                # a link the file gives in one direction only carries that capacity both ways
                back, back_clamped = mininet_bandwidth(capacity.get((dst, src), capacity[(src, dst)]),
                                                       scale)
                self.clamped += [pair for pair, was in (((src, dst), forward_clamped),
                                                        ((dst, src), back_clamped)) if was]
                opts = {"cls": TCLink, "params1": {"bw": forward}, "params2": {"bw": back}}
            self.addLink(f"s{src}", f"s{dst}", **opts)
        if self.clamped:
            from mininet.log import warn

            low, high = MININET_BW_RANGE_MBPS
            warn(f"*** {path}: {len(self.clamped)} directed link(s) shaped outside {low:g}..{high:g} "
                 f"Mbit/s at scale {scale:g}, clamped: "
                 f"{', '.join(f's{a}->s{b}' for a, b in self.clamped)}\n")


class GeantTopo(GraphTopo):
    """GEANT from the data directory: 22 switches, 36 links of 10, 2.4 and 0.155 Mbit/s at the
    default scale."""

    def build(self, scale=ABILENE_SCALE, shaped=True):
        super().build("geant", scale=scale, shaped=shaped)


topos = {
    "ring": RingTopo,
    "ring-ovs-dpids": OvsDpidRingTopo,
    "diamond": DiamondTopo,
    "abilene": AbileneTopo,
    "geant": GeantTopo,
    "graph": GraphTopo,
}
