"""OpenFlow roles under high availability: what each switch is told, read from the serialised
messages as the OpenFlow 1.3 spec lays them out (role request: header, role u32, 4 pad,
generation_id u64; set-async: three pairs of u32 masks, master/equal first)."""
from __future__ import annotations

import struct

from ryu.ofproto import ofproto_protocol, ofproto_v1_3 as ofp

from controller.leadership import Term
from controller.roles import ControllerRole

DATAPATH = ofproto_protocol.ProtocolDesc(version=ofp.OFP_VERSION)


def wire(message) -> bytes:
    message.datapath = DATAPATH
    message.serialize()
    return bytes(message.buf)


def role_on_wire(message) -> tuple[int, int]:
    data = wire(message)
    assert data[1] == ofp.OFPT_ROLE_REQUEST
    role, generation = struct.unpack_from("!I4xQ", data, 8)
    return role, generation


def test_without_ha_the_role_stays_equal_and_every_write_is_allowed():
    role = ControllerRole(enabled=False)
    assert role.on_connect(1) == [] and role.writes_allowed()
    assert role.on_term(Term(True, "a", 5), [1, 2]) == (False, [])


def test_a_standby_asks_for_packet_ins_and_port_status_as_slave_but_no_flow_removals():
    role = ControllerRole(enabled=True)
    (dpid_a, async_config), (dpid_b, request) = role.on_connect(4)
    assert dpid_a == dpid_b == 4 and not role.writes_allowed()
    data = wire(async_config)
    assert data[1] == ofp.OFPT_SET_ASYNC
    packet_in, port_status, flow_removed = (struct.unpack_from("!II", data, 8 + 8 * i) for i in range(3))
    assert packet_in == (0b11, 0b11)                 # NO_MATCH and ACTION, in both roles
    assert port_status == (0b111, 0b111)             # ADD, DELETE, MODIFY
    assert flow_removed[1] == 0 and flow_removed[0] == 0b1111
    assert role_on_wire(request) == (ofp.OFPCR_ROLE_SLAVE, 0)


def test_winning_the_term_makes_it_master_of_every_switch_with_the_terms_generation():
    role = ControllerRole(enabled=True)
    became, messages = role.on_term(Term(True, "a", 7), [3, 1])
    assert became and role.writes_allowed()
    assert [(dpid, role_on_wire(m)) for dpid, m in messages] == [
        (1, (ofp.OFPCR_ROLE_MASTER, 7)), (3, (ofp.OFPCR_ROLE_MASTER, 7))]
    assert role.on_term(Term(True, "a", 7), [1, 3]) == (False, [])   # nothing new to say


def test_losing_the_term_turns_it_slave_under_the_new_generation():
    role = ControllerRole(enabled=True)
    role.on_term(Term(True, "a", 7), [1])
    became, messages = role.on_term(Term(False, "b", 9), [1])
    assert not became and not role.writes_allowed()
    assert [role_on_wire(m) for _, m in messages] == [(ofp.OFPCR_ROLE_SLAVE, 9)]


def test_a_stale_refusal_stops_a_master_writing_at_once():
    role = ControllerRole(enabled=True)
    role.on_term(Term(True, "a", 7), [1])
    assert role.on_stale() and not role.writes_allowed() and role.stale_refusals == 1
    assert not role.on_stale()    # already a slave: nothing more to give up
