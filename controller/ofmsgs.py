"""OpenFlow 1.3 messages qroute sends, built without a datapath (the shim attaches one).

Traffic between switches travels in tunnels (see :mod:`controller.tunnels`): a tunnel is one
switch path with its own VLAN id (its label), pushed at the ingress by a bucket of the select
group of the egress switch, matched on every transit switch and popped at the egress, which
delivers by destination MAC in table 1.

Priority plan, table 0:
  65535  LLDP to controller (installed by ryu.topology.switches)
  30000  broadcast ARP to controller: the controller answers or floods only to edge ports,
         so loops in the topology never carry a broadcast; unicast ARP (a host re-checking
         a neighbour it knows) is forwarded like any frame by the rules below, so hosts keep
         their neighbours while the controller is away
  25000  tunnel rules: match vlan_vid = label; transit: output to the next hop; egress:
         pop the tag and go to table 1
  20000  classification of untagged traffic by eth_dst: a host behind another switch j goes
         to select group j (which tags it onto one of the pair's tunnels), a host on this
         switch straight to its port
      0  table miss to controller (host learning)
table 1:
  20000  delivery: eth_dst of a host on this switch, output to its port
      0  table miss: drop

A select group is named after its egress switch (one group per egress on each ingress switch):
its id is the egress dpid, or a hash of it for a dpid of 2^31 and above (:mod:`controller.group_ids`).

Local protection: where a tunnel hop at switch s has a backup, the hop (s's select bucket at the
ingress, or s's transit rule) sends the frame to a fast-failover group on s, id
FF_GROUP_BASE + label: bucket 1 watches the hop's own out port and outputs there; bucket 2
watches the first port of a backup tunnel from s to the tunnel's egress that avoids the hop's
link (:mod:`controller.protection`), rewrites the VLAN id to the backup's label and outputs
there (to OFPP_IN_PORT where that is the port the hop's frames arrive by: a backup that turns
back). The switch takes bucket 2 by itself once the port is not live (carrier lost, or BFD down
where it runs); the backup's own hops are plain transit rules. Select group ids stop below
FF_GROUP_BASE (MAX_GROUP_ID).

Every rule qroute installs carries APP_COOKIE in the high 32 bits of its cookie, so its own
rules can be listed and deleted without touching anyone else's; the low 32 bits hold the epoch
of the decision that installed it.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable

from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.group_ids import FF_GROUP_BASE, MAX_GROUP_ID, is_select_group_id, select_group_id

APP_COOKIE = 0x71726F75  # "qrou"
APP_COOKIE_MASK = 0xFFFFFFFF00000000
EPOCH_MASK = 0xFFFFFFFF
PRIORITY_ARP = 30000
PRIORITY_TUNNEL = 25000
PRIORITY_CLASSIFY = 20000
PRIORITY_DELIVER = 20000
PRIORITY_MISS = 0
TABLE_CLASSIFY = 0
TABLE_DELIVER = 1
MIN_LABEL, MAX_LABEL = 1, 4094  # the VLAN ids a tunnel can have (0 and 4095 are reserved)
UNTAGGED = ofp.OFPVID_NONE      # vlan_vid match of a frame without an 802.1Q tag

Bucket = tuple[int, int, int]   # (label, weight, first-hop out port)


def cookie(epoch: int = 0) -> int:
    return (APP_COOKIE << 32) | (epoch & EPOCH_MASK)


def _flow_mod(match, actions=(), priority=PRIORITY_CLASSIFY, epoch=0, command=ofp.OFPFC_ADD,
              table_id=TABLE_CLASSIFY, goto_table=None):
    instructions = []
    if actions:
        instructions.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions)))
    if goto_table is not None:
        instructions.append(parser.OFPInstructionGotoTable(goto_table))
    return parser.OFPFlowMod(
        datapath=None, cookie=cookie(epoch), cookie_mask=0, table_id=table_id, command=command,
        idle_timeout=0, hard_timeout=0, priority=priority, buffer_id=ofp.OFP_NO_BUFFER,
        out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, flags=0,
        match=match, instructions=instructions)


def _delete_strict(match, priority, table_id=TABLE_CLASSIFY):
    # out_port/out_group must be ANY: Ryu defaults them to 0, which matches nothing.
    mod = _flow_mod(match, priority=priority, command=ofp.OFPFC_DELETE_STRICT, table_id=table_id)
    mod.cookie_mask = APP_COOKIE_MASK
    return mod


def to_controller():
    return parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)


BROADCAST = "ff:ff:ff:ff:ff:ff"


def base_rules() -> list:
    """Rules every switch gets on connect: table miss and broadcast ARP to the controller in
    table 0, and table 1's miss, which drops (a frame popped off a tunnel for no host known
    here). Unicast ARP is left to the tunnel and classification rules (to the controller by
    the table miss when its destination is unknown): a host's unicast probes of a neighbour
    it already knows must not depend on the controller being there."""
    return [
        _flow_mod(parser.OFPMatch(), [to_controller()], priority=PRIORITY_MISS),
        _flow_mod(parser.OFPMatch(eth_type=ether.ETH_TYPE_ARP, eth_dst=BROADCAST), [to_controller()],
                  priority=PRIORITY_ARP),
        _flow_mod(parser.OFPMatch(), priority=PRIORITY_MISS, table_id=TABLE_DELIVER),
    ]


def base_rule_keys() -> set[tuple]:
    """(table, priority, match items) of each base rule: how a read-back rule is known as one."""
    return {(mod.table_id, mod.priority, tuple(sorted(mod.match.items()))) for mod in base_rules()}


def switch_reset() -> list:
    """None of qroute's rules or groups, then the base rules: an empty switch, for tests and
    tools. The controller never sends it: a (re)connecting switch is read back instead
    (:mod:`controller.readback`)."""
    return [delete_all_app_rules(), delete_all_groups(), *base_rules()]


# --- tunnels ------------------------------------------------------------------------------
def tagged(label: int) -> int:
    """The vlan_vid of a frame tagged with `label` (OFPVID_PRESENT set), as matched and set."""
    if not MIN_LABEL <= label <= MAX_LABEL:
        raise ValueError(f"tunnel label {label} is not a VLAN id in {MIN_LABEL}..{MAX_LABEL}")
    return ofp.OFPVID_PRESENT | label


def tunnel_match(label: int):
    return parser.OFPMatch(vlan_vid=tagged(label))


def tunnel_transit_rule(label: int, out_port: int, epoch: int = 0):
    """A transit switch of a tunnel: its frames go on, still tagged, towards the next hop."""
    return _flow_mod(tunnel_match(label), [parser.OFPActionOutput(out_port)],
                     priority=PRIORITY_TUNNEL, epoch=epoch)


def tunnel_transit_to_group(label: int, epoch: int = 0):
    """A protected transit hop: its frames go to the hop's fast-failover group, which sends
    them on to the next hop while that port is live and onto the backup tunnel when not."""
    return _flow_mod(tunnel_match(label), [parser.OFPActionGroup(ff_group_id(label))],
                     priority=PRIORITY_TUNNEL, epoch=epoch)


def tunnel_egress_rule(label: int, epoch: int = 0):
    """The egress switch of a tunnel: the tag comes off and table 1 delivers by eth_dst."""
    return _flow_mod(tunnel_match(label), [parser.OFPActionPopVlan()], priority=PRIORITY_TUNNEL,
                     epoch=epoch, goto_table=TABLE_DELIVER)


def delete_tunnel_rule(label: int):
    return _delete_strict(tunnel_match(label), PRIORITY_TUNNEL)


# --- hosts --------------------------------------------------------------------------------
def classify_match(mac: str):
    return parser.OFPMatch(vlan_vid=UNTAGGED, eth_dst=mac)


def classify_to_group(mac: str, egress: int, epoch: int = 0):
    """Untagged traffic for a host behind another switch: into that switch's select group."""
    return _flow_mod(classify_match(mac), [parser.OFPActionGroup(select_group_id(egress))],
                     priority=PRIORITY_CLASSIFY, epoch=epoch)


def classify_to_port(mac: str, port: int, epoch: int = 0):
    """Untagged traffic for a host on this switch: straight to its port."""
    return _flow_mod(classify_match(mac), [parser.OFPActionOutput(port)],
                     priority=PRIORITY_CLASSIFY, epoch=epoch)


def delete_classify_rule(mac: str):
    return _delete_strict(classify_match(mac), PRIORITY_CLASSIFY)


def delivery_rule(mac: str, port: int, epoch: int = 0):
    """Table 1: a frame that left its tunnel here goes to its host's port."""
    return _flow_mod(parser.OFPMatch(eth_dst=mac), [parser.OFPActionOutput(port)],
                     priority=PRIORITY_DELIVER, epoch=epoch, table_id=TABLE_DELIVER)


def delete_delivery_rule(mac: str):
    return _delete_strict(parser.OFPMatch(eth_dst=mac), PRIORITY_DELIVER, table_id=TABLE_DELIVER)


# --- groups -------------------------------------------------------------------------------
# fast-failover groups take FF_GROUP_BASE + label (labels 1..4094), select groups the ids below
# (named after their egress: group_ids.select_group_id)

# (hop's out port, backup tunnel's label, backup's first port, whether that port is the one
# the hop's frames come in by: a switch never outputs a frame to its ingress port unless told
# OFPP_IN_PORT, so such a backup, which turns back, outputs to IN_PORT)
Protection = tuple[int, int, int, bool]


def ff_group_id(label: int) -> int:
    """The fast-failover group of tunnel `label`'s hop on a switch (one per label there)."""
    return FF_GROUP_BASE + (tagged(label) & 0x0FFF)


def ff_group_label(group_id: int) -> int | None:
    """The tunnel label of a fast-failover group id (None: not one of qroute's FF ids)."""
    label = group_id - FF_GROUP_BASE
    return label if MIN_LABEL <= label <= MAX_LABEL else None


def bucket(label: int, weight: int, out_port: int, protected: bool = False):
    """One tunnel of a select group: tag the frame with the tunnel's label, send it on the
    tunnel's first hop (`protected`: through the hop's fast-failover group, which outputs to
    `out_port` while it is live); `weight` (>= 1) is its share of the group's flows."""
    if weight < 1:
        raise ValueError(f"bucket weight {weight} for label {label}: a bucket needs weight >= 1")
    out = (parser.OFPActionGroup(ff_group_id(label)) if protected
           else parser.OFPActionOutput(out_port))
    actions = [parser.OFPActionPushVlan(ether.ETH_TYPE_8021Q),
               parser.OFPActionSetField(vlan_vid=tagged(label)), out]
    return parser.OFPBucket(weight=weight, watch_port=ofp.OFPP_ANY, watch_group=ofp.OFPG_ANY,
                            actions=actions)


def _group_mod(command: int, group_id: int, buckets: Iterable[Bucket],
               protected: Collection[int] = ()):
    return parser.OFPGroupMod(datapath=None, command=command, type_=ofp.OFPGT_SELECT,
                              group_id=group_id,
                              buckets=[bucket(*spec, protected=spec[0] in protected)
                                       for spec in buckets])


def group_add(egress: int, buckets: Iterable[Bucket], protected: Collection[int] = ()):
    """The select group towards switch `egress`; buckets whose label is in `protected` go
    through their FF group."""
    return _group_mod(ofp.OFPGC_ADD, select_group_id(egress), buckets, protected)


def group_modify(egress: int, buckets: Iterable[Bucket], protected: Collection[int] = ()):
    return _group_mod(ofp.OFPGC_MODIFY, select_group_id(egress), buckets, protected)


def group_delete(egress: int):
    return group_delete_id(select_group_id(egress))


def group_delete_id(group_id: int):
    """Delete select group `group_id` (one read back whose egress is not known)."""
    if not is_select_group_id(group_id):
        raise ValueError(f"{group_id:#x} is not a select group id of qroute's (0..{MAX_GROUP_ID:#x})")
    return _group_mod(ofp.OFPGC_DELETE, group_id, ())


def ff_buckets(protection: Protection) -> list:
    out_port, backup_label, backup_port, turns_back = protection
    if out_port == backup_port:
        raise ValueError(f"a backup leaving by the protected port {out_port} protects nothing")
    return [parser.OFPBucket(weight=0, watch_port=out_port, watch_group=ofp.OFPG_ANY,
                             actions=[parser.OFPActionOutput(out_port)]),
            parser.OFPBucket(weight=0, watch_port=backup_port, watch_group=ofp.OFPG_ANY,
                             actions=[parser.OFPActionSetField(vlan_vid=tagged(backup_label)),
                                      parser.OFPActionOutput(ofp.OFPP_IN_PORT if turns_back
                                                             else backup_port)])]


def _ff_group_mod(command: int, label: int, protection: Protection | None):
    return parser.OFPGroupMod(datapath=None, command=command, type_=ofp.OFPGT_FF,
                              group_id=ff_group_id(label),
                              buckets=ff_buckets(protection) if protection else [])


def ff_group_add(label: int, protection: Protection):
    """Tunnel `label`'s hop on a switch: out of its port while live, else onto the backup."""
    return _ff_group_mod(ofp.OFPGC_ADD, label, protection)


def ff_group_modify(label: int, protection: Protection):
    return _ff_group_mod(ofp.OFPGC_MODIFY, label, protection)


def ff_group_delete(label: int):
    return _ff_group_mod(ofp.OFPGC_DELETE, label, None)


def delete_all_groups():
    return parser.OFPGroupMod(datapath=None, command=ofp.OFPGC_DELETE, type_=ofp.OFPGT_SELECT,
                              group_id=ofp.OFPG_ALL, buckets=[])


def group_stats_request():
    return parser.OFPGroupStatsRequest(datapath=None, flags=0, group_id=ofp.OFPG_ALL)


def group_desc_request():
    return parser.OFPGroupDescStatsRequest(datapath=None, flags=0)


# --- the rest -----------------------------------------------------------------------------
def delete_all_app_rules():
    mod = _flow_mod(parser.OFPMatch(), command=ofp.OFPFC_DELETE)
    mod.table_id = ofp.OFPTT_ALL
    mod.cookie_mask = APP_COOKIE_MASK
    return mod


def delete_flow_strict(table_id: int, priority: int, match_fields: dict):
    """Delete one qroute rule given by its table, priority and match (as read back from a
    switch), e.g. one of a kind the controller no longer installs."""
    return _delete_strict(parser.OFPMatch(**match_fields), priority, table_id=table_id)


def app_flow_stats_request():
    """Every qroute rule of a switch (any table, any match, the cookie's high 32 bits ours):
    what a (re)connecting switch holds, to be read back instead of deleted."""
    return parser.OFPFlowStatsRequest(datapath=None, flags=0, table_id=ofp.OFPTT_ALL,
                                      out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                                      cookie=cookie(0), cookie_mask=APP_COOKIE_MASK,
                                      match=parser.OFPMatch())


def packet_out(data: bytes, out_port: int, in_port: int = ofp.OFPP_CONTROLLER):
    return parser.OFPPacketOut(datapath=None, buffer_id=ofp.OFP_NO_BUFFER, in_port=in_port,
                               actions=[parser.OFPActionOutput(out_port)], data=data)


def port_stats_request():
    return parser.OFPPortStatsRequest(datapath=None, flags=0, port_no=ofp.OFPP_ANY)


def port_desc_request():
    return parser.OFPPortDescStatsRequest(datapath=None, flags=0)


def barrier_request():
    return parser.OFPBarrierRequest(datapath=None)


# --- controller roles (high availability) -------------------------------------------------
ROLE_MASTER, ROLE_SLAVE, ROLE_EQUAL = ofp.OFPCR_ROLE_MASTER, ofp.OFPCR_ROLE_SLAVE, ofp.OFPCR_ROLE_EQUAL


def role_request(role: int, generation: int):
    """This controller's role on the switch; a MASTER or SLAVE request carries the term's
    generation, and the switch refuses one older than the newest it has seen (stale)."""
    if role not in (ROLE_MASTER, ROLE_SLAVE, ROLE_EQUAL):
        raise ValueError(f"controller role {role} is not MASTER, SLAVE or EQUAL")
    return parser.OFPRoleRequest(datapath=None, role=role, generation_id=generation & 0xFFFFFFFFFFFFFFFF)


def standby_async_config():
    """What the switch tells this controller in either role: packet-ins (LLDP, ARP, first
    packets: a standby keeps its view of links and hosts warm), every port status, and flow
    removals only as master. OpenFlow's default sends a slave no packet-ins at all."""
    packet_in = (1 << ofp.OFPR_NO_MATCH) | (1 << ofp.OFPR_ACTION)
    port_status = (1 << ofp.OFPPR_ADD) | (1 << ofp.OFPPR_DELETE) | (1 << ofp.OFPPR_MODIFY)
    flow_removed = (1 << ofp.OFPRR_IDLE_TIMEOUT) | (1 << ofp.OFPRR_HARD_TIMEOUT) | (
        1 << ofp.OFPRR_DELETE) | (1 << ofp.OFPRR_GROUP_DELETE)
    # [master/equal, slave] masks
    return parser.OFPSetAsync(datapath=None, packet_in_mask=[packet_in, packet_in],
                              port_status_mask=[port_status, port_status],
                              flow_removed_mask=[flow_removed, 0])
