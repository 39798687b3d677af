"""Hosts that lie: limits on what the edge ports can teach the controller, and checks before a
host takes over another's place or address.

- A port teaches at most ``max_hosts_per_port`` MACs and the network at most ``max_hosts``:
  every learned host costs rules in every switch, so sources beyond the limits are refused
  and get none.
- A MAC seen at a new port (a move), or a MAC claiming an IP another host holds, is believed
  only when the old holder is gone: its switch or port is down or removed, or it leaves
  unanswered an ARP probe sent out of its old port for ``host_probe_timeout`` seconds. A
  packet from the old holder at its old place (the probe's answer or any other) refuses the
  claim.
- An edge port that sends more than ``packet_in_port_budget`` packet-ins a second gets a drop
  rule for what it would send the controller (``hard_timeout`` = ``port_block_seconds``), and
  each switch's to-controller rules go through an OpenFlow meter of ``packet_in_rate``
  packets/s, so one host at line rate cannot swamp the controller or its switch's channel.

Pure: the time is passed in, messages are returned as ``(dpid, message)`` lists.
"""
from __future__ import annotations

import copy
import logging
from collections import Counter, deque
from dataclasses import dataclass, replace

from ryu.lib.packet import arp, ethernet, packet
from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import ofmsgs
from controller.netstate import HostLocation, NetworkState
from controller.splits import Message

LOG = logging.getLogger("qroute.edge")

# The source of the controller's ARP probes: a locally administered unicast MAC no host has.
PROBE_MAC = "02:71:72:6f:75:fe"
# The probes are RFC 5227 ARP probes (sender IP 0.0.0.0): a host answers them without putting
# the controller in its ARP cache.
PROBE_SENDER_IP = "0.0.0.0"
PACKET_IN_METER_ID = 1
PRIORITY_BLOCK_ARP = ofmsgs.PRIORITY_ARP + 1   # over the ARP-to-controller rule
PRIORITY_BLOCK_MISS = ofmsgs.PRIORITY_MISS + 1  # over the table miss only: known traffic flows
# how long one refusal is remembered: it is counted and logged once in that time, and the same
# claim is not probed again meanwhile
REFUSAL_MEMORY_S = 30.0
MAX_REMEMBERED = 4096
MAX_CLAIMS = 256  # claims waiting on a probe at once; more are refused ("claims_limit")

# what became of a source the controller saw
LEARNED = "learned"      # a new host, or one that moved: routes change
KNOWN = "known"          # nothing new
REFUSED = "refused"      # not believed: no rules, no forwarding by the controller
PENDING = "pending"      # waiting for the old holder to answer its probe
TRANSIT = "transit"      # seen on a port with a link: not a host there


@dataclass(frozen=True)
class EdgeLimits:
    max_hosts_per_port: int = 8
    max_hosts: int = 1024
    host_probe_timeout: float = 1.0
    packet_in_port_budget: int = 200
    port_block_seconds: int = 10

    @classmethod
    def from_settings(cls, settings) -> EdgeLimits:
        return cls(settings.max_hosts_per_port, settings.max_hosts, settings.host_probe_timeout,
                   settings.packet_in_port_budget, settings.port_block_seconds)


@dataclass(frozen=True)
class Claim:
    """A source waiting for the old holder (`holder`) to answer the probe sent at `sent_at`:
    `claimant` at its new place (a move: the same MAC; an IP claim: another MAC)."""

    kind: str                 # "move" or "ip_claim"
    claimant: HostLocation
    holder: HostLocation
    sent_at: float


def arp_probe(holder_mac: str, target_ip: str | None) -> bytes:
    """An ARP probe (RFC 5227) asking `holder_mac` whether it has `target_ip`."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(ethertype=ether.ETH_TYPE_ARP, dst=holder_mac, src=PROBE_MAC))
    pkt.add_protocol(arp.arp(opcode=arp.ARP_REQUEST, src_mac=PROBE_MAC, src_ip=PROBE_SENDER_IP,
                             dst_mac="00:00:00:00:00:00", dst_ip=target_ip or "0.0.0.0"))
    pkt.serialize()
    return bytes(pkt.data)


def _real_ip(ip: str | None) -> str | None:
    return None if ip in (None, "", "0.0.0.0") else ip


class EdgeGuard:
    """Decides which sources become hosts (see the module's doc). `learn` replaces
    `NetworkState.learn_host` for what arrives at the controller; `settle` accepts the claims
    whose probe went unanswered; the app calls `port_changed` on port-status."""

    def __init__(self, limits: EdgeLimits, log: logging.Logger = LOG):
        self.limits = limits
        self.log = log
        self.claims: dict[str, Claim] = {}        # claimant MAC -> its claim
        self.down: set[tuple[int, int]] = set()   # ports reported down
        self.refused_total: Counter = Counter()   # reason -> refusals (each counted once a memory)
        self.recent: deque = deque(maxlen=20)
        self._remembered: dict[tuple, float] = {}  # (mac, dpid, port, reason) -> when refused

    # --- ports ----------------------------------------------------------------------------
    def port_changed(self, dpid: int, port: int, down: bool) -> None:
        if down:
            self.down.add((dpid, port))
        else:
            self.down.discard((dpid, port))

    def place_alive(self, state: NetworkState, dpid: int, port: int) -> bool:
        """Whether a host can still be at (dpid, port): its switch connected, the port there and
        up."""
        return (dpid in state.switches and port in state.ports.get(dpid, ())
                and (dpid, port) not in self.down)

    # --- learning -------------------------------------------------------------------------
    def learn(self, state: NetworkState, mac: str, dpid: int, port: int, ip: str | None,
              now: float) -> tuple[str, list[Message]]:
        """A packet from `mac` (sender `ip`) at (dpid, port): what became of its source (LEARNED,
        KNOWN, REFUSED, PENDING or TRANSIT) and the messages to send (probes)."""
        if state.is_link_port(dpid, port):
            return TRANSIT, []
        ip = _real_ip(ip)
        here = HostLocation(mac, dpid, port, ip)
        if self._answers_a_probe(here, now):
            return KNOWN, []
        if mac in self.claims:
            return PENDING, []
        if self._remembered_refusal(here, now):
            return REFUSED, []
        old = state.hosts.get(mac)
        moved = old is not None and (old.dpid, old.port) != (dpid, port)
        if old is None or moved:
            # a claim waiting on its probe holds its place at the port as a host would
            at_port = (sum(1 for h in state.hosts.values() if (h.dpid, h.port) == (dpid, port))
                       + sum(1 for c in self.claims.values()
                             if (c.claimant.dpid, c.claimant.port) == (dpid, port)))
            if at_port >= self.limits.max_hosts_per_port:
                return self._refuse(here, "port_limit", now), []
            if old is None and len(state.hosts) >= self.limits.max_hosts:
                return self._refuse(here, "host_limit", now), []
        if moved and self.place_alive(state, old.dpid, old.port):
            return self._probe("move", here, old, now)
        holder = state.host_by_ip(ip) if ip else None
        if holder is not None and holder.mac != mac:
            if self.place_alive(state, holder.dpid, holder.port):
                return self._probe("ip_claim", here, holder, now)
            state.hosts[holder.mac] = replace(holder, ip=None)  # its port is gone: so is its claim
        return (LEARNED if state.learn_host(mac, dpid, port, ip) else KNOWN), []

    def settle(self, state: NetworkState, now: float) -> list[str]:
        """Accept the claims whose holder left its probe unanswered past the timeout (or whose
        place went down meanwhile); returns the MACs learned."""
        learned = []
        for mac, claim in list(self.claims.items()):
            expired = now - claim.sent_at >= self.limits.host_probe_timeout
            if not expired and self.place_alive(state, claim.holder.dpid, claim.holder.port):
                continue
            del self.claims[mac]
            new = claim.claimant
            if state.is_link_port(new.dpid, new.port):
                continue
            holder = state.hosts.get(claim.holder.mac)
            if claim.kind == "ip_claim" and holder is not None and holder.ip == new.ip:
                state.hosts[holder.mac] = replace(holder, ip=None)
            if state.learn_host(new.mac, new.dpid, new.port, new.ip):
                learned.append(mac)
            self.log.warning("host %s at %016x port %d accepted: %s did not answer at %016x "
                             "port %d", mac, new.dpid, new.port, claim.holder.mac,
                             claim.holder.dpid, claim.holder.port)
        return learned

    def _answers_a_probe(self, here: HostLocation, now: float) -> bool:
        """A packet from a holder at its old place: every claim on it is refused."""
        answered = [mac for mac, claim in self.claims.items()
                    if (claim.holder.mac, claim.holder.dpid, claim.holder.port)
                    == (here.mac, here.dpid, here.port)]
        for mac in answered:
            claim = self.claims.pop(mac)
            self._refuse(claim.claimant, f"{claim.kind}_answered", now)
        return bool(answered)

    def _probe(self, kind: str, claimant: HostLocation, holder: HostLocation,
               now: float) -> tuple[str, list[Message]]:
        if len(self.claims) >= MAX_CLAIMS:
            return self._refuse(claimant, "claims_limit", now), []
        probing = any(c.holder == holder for c in self.claims.values())
        self.claims[claimant.mac] = Claim(kind, claimant, holder, now)
        if probing:
            return PENDING, []  # one probe answers every claim on that holder
        target = holder.ip or claimant.ip
        self.log.info("%s at %016x port %d claims %s's %s: probing it at %016x port %d",
                      claimant.mac, claimant.dpid, claimant.port, holder.mac,
                      "IP " + str(claimant.ip) if kind == "ip_claim" else "MAC", holder.dpid,
                      holder.port)
        return PENDING, [(holder.dpid, ofmsgs.packet_out(arp_probe(holder.mac, target), holder.port))]

    # --- refusals -------------------------------------------------------------------------
    def _remembered_refusal(self, here: HostLocation, now: float) -> bool:
        return any(now - self._remembered.get((here.mac, here.dpid, here.port, reason), -1e18)
                   < REFUSAL_MEMORY_S for reason in ("move_answered", "ip_claim_answered"))

    def _refuse(self, who: HostLocation, reason: str, now: float) -> str:
        key = (who.mac, who.dpid, who.port, reason)
        last = self._remembered.get(key)
        if last is None or now - last >= REFUSAL_MEMORY_S:
            if len(self._remembered) >= MAX_REMEMBERED:
                self._remembered = {k: t for k, t in self._remembered.items()
                                    if now - t < REFUSAL_MEMORY_S}
                if len(self._remembered) >= MAX_REMEMBERED:
                    self._remembered.clear()  # a flood of fresh sources: forget, stay bounded
            self._remembered[key] = now
            self.refused_total[reason] += 1
            self.recent.append({"mac": who.mac, "ip": who.ip, "dpid": who.dpid, "port": who.port,
                                "reason": reason, "at": now})
            self.log.warning("host %s (ip %s) at %016x port %d refused: %s", who.mac, who.ip,
                             who.dpid, who.port, reason)
        return REFUSED

    def describe(self) -> dict:
        return {"hosts_refused": dict(sorted(self.refused_total.items())),
                "recent_refusals": list(self.recent),
                "pending_claims": [{"kind": c.kind, "mac": c.claimant.mac, "dpid": c.claimant.dpid,
                                    "port": c.claimant.port, "ip": c.claimant.ip,
                                    "holder": c.holder.mac}
                                   for c in self.claims.values()],
                "limits": {"max_hosts_per_port": self.limits.max_hosts_per_port,
                           "max_hosts": self.limits.max_hosts,
                           "host_probe_timeout": self.limits.host_probe_timeout}}


class PacketInBudget:
    """Packet-ins per edge port and second; a port over budget gets drop rules for what it
    would send the controller, for `block_s` seconds (the rules' hard_timeout, so they go away
    by themselves even if the controller does not come back)."""

    def __init__(self, per_second: int, block_s: int):
        self.per_second = per_second
        self.block_s = block_s
        self.windows: dict[tuple[int, int], tuple[float, int]] = {}  # port -> (second, count)
        self.blocked: dict[tuple[int, int], float] = {}              # port -> until
        self.blocks_total = 0

    def admit(self, dpid: int, port: int, now: float) -> tuple[bool, list[Message]]:
        """Whether to handle a packet-in from (dpid, port), and the drop rules to send when
        this one is over the budget."""
        if not self.per_second:
            return True, []
        key = (dpid, port)
        until = self.blocked.get(key)
        if until is not None:
            if now < until:
                return False, []  # sent before the drop rule was in place
            del self.blocked[key]
        second, count = self.windows.get(key, (now, 0))
        if now - second >= 1.0:
            second, count = now, 0
        count += 1
        self.windows[key] = (second, count)
        if count <= self.per_second:
            return True, []
        self.blocked[key] = now + self.block_s
        self.windows.pop(key)
        self.blocks_total += 1
        return False, [(dpid, message) for message in port_block_rules(port, self.block_s)]

    def forget_switch(self, dpid: int) -> None:
        for table in (self.windows, self.blocked):
            for key in [k for k in table if k[0] == dpid]:
                del table[key]

    def describe(self, now: float) -> dict:
        return {"ports_blocked_total": self.blocks_total,
                "blocked_ports": [{"dpid": d, "port": p, "seconds_left": round(until - now, 1)}
                                  for (d, p), until in sorted(self.blocked.items()) if until > now]}


# --- messages -----------------------------------------------------------------------------
def port_block_rules(port: int, seconds: int) -> list:
    """Drop what `port` sends that would reach the controller (its ARP, and what misses every
    rule) for `seconds`; its traffic to known hosts still flows."""
    rules = []
    for match, priority in ((parser.OFPMatch(in_port=port, eth_type=ether.ETH_TYPE_ARP),
                             PRIORITY_BLOCK_ARP),
                            (parser.OFPMatch(in_port=port), PRIORITY_BLOCK_MISS)):
        rule = ofmsgs._flow_mod(match, priority=priority)
        rule.hard_timeout = seconds
        rules.append(rule)
    return rules


def packet_in_meter(rate_pps: int, meter_id: int = PACKET_IN_METER_ID):
    """The meter the to-controller rules go through: `rate_pps` packets/s (burst the same),
    the rest dropped in the switch."""
    band = parser.OFPMeterBandDrop(rate=rate_pps, burst_size=rate_pps)
    return parser.OFPMeterMod(datapath=None, command=ofp.OFPMC_ADD,
                              flags=ofp.OFPMF_PKTPS | ofp.OFPMF_BURST, meter_id=meter_id,
                              bands=[band])


def _to_controller(rule) -> bool:
    return any(isinstance(action, parser.OFPActionOutput) and action.port == ofp.OFPP_CONTROLLER
               for instruction in getattr(rule, "instructions", ())
               for action in getattr(instruction, "actions", ()))


def metered(messages: list, meter_id: int = PACKET_IN_METER_ID) -> list:
    """`messages` with every flow-mod that sends to the controller going through the meter
    first (copies; the others unchanged)."""
    out = []
    for message in messages:
        if isinstance(message, parser.OFPFlowMod) and _to_controller(message):
            message = copy.copy(message)
            message.instructions = [parser.OFPInstructionMeter(meter_id, ofp.OFPIT_METER),
                                    *message.instructions]
        out.append(message)
    return out


def connect_messages(rules: list, rate_pps: int) -> list:
    """What a connecting switch gets instead of `rules`: `rules` with the to-controller ones
    metered, and the meter just before the first of them (with `rate_pps` 0: `rules` as they
    are). The meter's ADD fails harmlessly (METER_EXISTS) on a switch that kept it."""
    if not rate_pps:
        return list(rules)
    out = metered(rules)
    first = next((i for i, (a, b) in enumerate(zip(rules, out)) if a is not b), len(out))
    return [*out[:first], packet_in_meter(rate_pps), *out[first:]]
