"""OpenFlow 1.3 messages qroute sends, built without a datapath (the shim attaches one).

Priority plan (table 0):
  65535  LLDP to controller (installed by ryu.topology.switches)
  30000  ARP to controller: the controller answers or floods only to edge ports, so loops
         in the topology never carry a broadcast
  20000  host-pair path rules: match (eth_src, eth_dst), output to the next hop
      0  table miss to controller (host learning)

Every rule qroute installs carries APP_COOKIE in the high 32 bits of its cookie, so its own
rules can be listed and deleted without touching anyone else's. The low 32 bits hold the
decision epoch (31 bits) and INGRESS_FLAG on a path rule at its flow's ingress switch: the one
rule whose byte counter is the flow's rate, so statistics are asked of those rules only.
"""
from __future__ import annotations

from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

APP_COOKIE = 0x71726F75  # "qrou"
APP_COOKIE_MASK = 0xFFFFFFFF00000000
INGRESS_FLAG = 1 << 31
EPOCH_MASK = INGRESS_FLAG - 1
PRIORITY_ARP = 30000
PRIORITY_PATH = 20000
PRIORITY_MISS = 0


def cookie(epoch: int = 0, ingress: bool = False) -> int:
    return (APP_COOKIE << 32) | (INGRESS_FLAG if ingress else 0) | (epoch & EPOCH_MASK)


def _flow_mod(match, actions=(), priority=PRIORITY_PATH, epoch=0,
              command=ofp.OFPFC_ADD, idle_timeout=0, ingress=False):
    instructions = []
    if actions:
        instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions))]
    return parser.OFPFlowMod(
        datapath=None, cookie=cookie(epoch, ingress), cookie_mask=0, table_id=0, command=command,
        idle_timeout=idle_timeout, hard_timeout=0, priority=priority, buffer_id=ofp.OFP_NO_BUFFER,
        out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, flags=0,
        match=match, instructions=instructions)


def to_controller():
    return parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)


def base_rules() -> list:
    """Rules every switch gets on connect: table miss and ARP to the controller."""
    return [
        _flow_mod(parser.OFPMatch(), [to_controller()], priority=PRIORITY_MISS),
        _flow_mod(parser.OFPMatch(eth_type=ether.ETH_TYPE_ARP), [to_controller()],
                  priority=PRIORITY_ARP),
    ]


def pair_match(src_mac: str, dst_mac: str):
    return parser.OFPMatch(eth_src=src_mac, eth_dst=dst_mac)


def forward_rule(src_mac: str, dst_mac: str, out_port: int, epoch: int = 0, ingress: bool = False):
    return _flow_mod(pair_match(src_mac, dst_mac), [parser.OFPActionOutput(out_port)],
                     priority=PRIORITY_PATH, epoch=epoch, ingress=ingress)


def delete_pair_rule(src_mac: str, dst_mac: str):
    # out_port/out_group must be ANY: Ryu defaults them to 0, which matches nothing.
    mod = _flow_mod(pair_match(src_mac, dst_mac), priority=PRIORITY_PATH,
                    command=ofp.OFPFC_DELETE_STRICT)
    mod.cookie = cookie(0)
    mod.cookie_mask = APP_COOKIE_MASK
    return mod


def delete_all_app_rules():
    mod = _flow_mod(parser.OFPMatch(), command=ofp.OFPFC_DELETE)
    mod.table_id = ofp.OFPTT_ALL
    mod.cookie = cookie(0)
    mod.cookie_mask = APP_COOKIE_MASK
    return mod


def packet_out(data: bytes, out_port: int, in_port: int = ofp.OFPP_CONTROLLER):
    return parser.OFPPacketOut(datapath=None, buffer_id=ofp.OFP_NO_BUFFER, in_port=in_port,
                               actions=[parser.OFPActionOutput(out_port)], data=data)


def port_stats_request():
    return parser.OFPPortStatsRequest(datapath=None, flags=0, port_no=ofp.OFPP_ANY)


def port_desc_request():
    return parser.OFPPortDescStatsRequest(datapath=None, flags=0)


def barrier_request():
    return parser.OFPBarrierRequest(datapath=None)


def ingress_flow_stats_request():
    """Statistics of qroute's path rules at their flows' ingress switches only (cookie match),
    for per-flow rates: transit rules count the same bytes again."""
    return parser.OFPFlowStatsRequest(datapath=None, flags=0, table_id=ofp.OFPTT_ALL,
                                      out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                                      cookie=cookie(0, ingress=True),
                                      cookie_mask=APP_COOKIE_MASK | INGRESS_FLAG,
                                      match=parser.OFPMatch())

