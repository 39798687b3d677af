"""App tier of high availability: a standby QRouteController on the fake ring of
tests/test_controller_app.py, whose switches hold what a first controller (the old master)
installed, replayed into simulated switches. The etcd campaign is scripted (the real one is
tested against etcd in tests/test_leadership.py); what the app sends is read from the
serialised OpenFlow."""
from __future__ import annotations

import logging
import struct
from types import SimpleNamespace

import pytest
from ryu.controller import ofp_event
from ryu.lib.packet import arp
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.leadership import Term
from tests import test_controller_app as app_tests
from tests.fakes import FakeNetwork, arp_frame, ip, is_delete, mac
from tests.test_controller_app import (HOST_PORT, _app_with, _record_barriers, delivered, is_table_mod,
                                       learn, replayed)

home, clock, spawned, wsgi, app, net, rest = (app_tests.home, app_tests.clock, app_tests.spawned,
                                              app_tests.wsgi, app_tests.app, app_tests.net,
                                              app_tests.rest)

WRITES = (parser.OFPFlowMod, parser.OFPGroupMod, parser.OFPMeterMod, parser.OFPPacketOut)
OLD_MASTER, STANDBY = "old-master", "standby"


class ScriptedLeadership:
    """Leadership as etcd would hand it out, set by the test."""

    def __init__(self, term: Term):
        self.instance_id, self.ttl_s, self.problem, self.term = STANDBY, 3, "", term
        self.resigned = False

    def step(self, now):
        return self.term

    def resign(self):
        self.resigned = True


def role_on_wire(message) -> tuple[int, int]:
    role, generation = struct.unpack_from("!I4xQ", bytes(message.buf), 8)
    return role, generation


def writes(log):
    return [(dpid, msg) for dpid, msg in log if dpid != "barrier" and isinstance(msg, WRITES)]


@pytest.fixture
def tables(net, app):
    """The switches after the old master (no HA) routed hosts 1 and 3."""
    learn(net, 1)
    learn(net, 3)
    return replayed(net)


@pytest.fixture
def standby(tables, spawned, wsgi, clock, tmp_path, monkeypatch):
    """A second controller, slave under the old master's term (generation 7), connected to
    every switch of the ring and knowing its links."""
    app = _app_with(f"[qroute]\netcd_endpoint = http://127.0.0.1:9\ncontroller_id = {STANDBY}\n"
                    f"state_file = {tmp_path / 'standby.json'}\n", tmp_path, monkeypatch, wsgi)
    app.clock = clock.monotonic
    app.hold.started = clock.now
    app.ha.leadership = ScriptedLeadership(Term(False, OLD_MASTER, 7))
    app.step_leadership()
    network = FakeNetwork(app, n=5)
    _record_barriers(app, network)
    for dpid in range(1, 6):
        network.connect(dpid, *tables.read_back(dpid))
    for src, dst in network.ring_links():
        network.link_add(src, dst)
    return app, network


def _take_over(app, network, generation=9):
    network.clear()
    app.ha.leadership.term = Term(True, STANDBY, generation)
    app.step_leadership()


def test_without_ha_no_role_is_asked_and_the_state_says_equal(net, app):
    assert not [m for _, m in net.history if isinstance(m, (parser.OFPRoleRequest, parser.OFPSetAsync))]
    assert app.describe()["ha"] == {"enabled": False, "role": "equal"}
    assert app.metrics.registry.get_sample_value("qroute_controller_role", {"role": "equal"}) == 1


def test_the_rest_api_serves_the_ha_view(rest):
    _, _, call = rest
    assert call("GET", "ha", token=None) == (200, {"enabled": False, "role": "equal"})


def test_with_etcd_set_the_campaign_runs_as_a_greenthread_of_its_own(standby, spawned):
    app, _ = standby
    assert (app._campaign,) in spawned
    app.ha.role.on_term(Term(True, STANDBY, 9), [])
    assert app.ha.step_interval() == 1.0           # a master refreshes every third of the lease
    app.ha.role.on_term(Term(False, OLD_MASTER, 10), [])
    assert app.ha.step_interval() == 0.5           # a standby campaigns twice as often


def test_a_slave_asks_for_its_role_first_then_reads_back_and_sends_no_write(standby, tables):
    app, network = standby
    for dpid in network.datapaths:
        first, second, third = [m for d, m in network.log if d == dpid][:3]
        assert isinstance(first, parser.OFPSetAsync) and isinstance(second, parser.OFPRoleRequest)
        assert role_on_wire(second) == (ofp.OFPCR_ROLE_SLAVE, 7)
        assert isinstance(third, parser.OFPPortDescStatsRequest)
    assert any(isinstance(m, parser.OFPFlowStatsRequest) for _, m in network.log)
    # what the old master installed is known (hosts from the delivery rules) but nothing is sent
    assert {mac(1), mac(3)} <= set(app.state.hosts)
    learn(network, 2)                                            # a new host: no decision
    network.packet_in(1, HOST_PORT, arp_frame(arp.ARP_REQUEST, 1, ip(3)))  # no ARP answer
    app.request_reroute("periodic")
    assert app.run_pending_reroutes() == 0
    assert writes(network.history + network.log) == []
    assert mac(2) in app.state.hosts and len(app.state.links) == 10   # the view stays warm
    view = app.describe()["ha"]
    assert (view["role"], view["holder"], view["generation"]) == ("slave", OLD_MASTER, 7)
    assert view["writes_withheld"] > 0


def test_a_new_master_asserts_its_generation_reads_every_switch_back_and_decides_after(standby, tables):
    app, network = standby
    _take_over(app, network)
    sent = [(dpid, msg) for dpid, msg in network.log]
    roles = [i for i, (_, m) in enumerate(sent) if isinstance(m, parser.OFPRoleRequest)]
    reads = [i for i, (_, m) in enumerate(sent) if isinstance(m, parser.OFPFlowStatsRequest)]
    assert sorted(sent[i][0] for i in roles) == [1, 2, 3, 4, 5] == sorted(sent[i][0] for i in reads)
    assert all(role_on_wire(sent[i][1]) == (ofp.OFPCR_ROLE_MASTER, 9) for i in roles)
    assert max(roles) < min(reads)
    assert app.resync_reason().startswith("reading back switch 1, 2, 3, 4, 5")
    learn(network, 2)      # asks for a decision, which waits for the read-back
    for dpid in (1, 2, 3, 4):
        network.answer_read_back(dpid, *tables.read_back(dpid))
        assert [m for _, m in network.log if is_table_mod(m)] == [], dpid
    network.answer_read_back(5, *tables.read_back(5))
    assert app.resync_reason() == ""
    # host 2's tunnels are added; what the old master installed stays, nothing is deleted
    mods = [(dpid, m) for dpid, m in network.log if dpid != "barrier" and is_table_mod(m)]
    assert mods and not [m for _, m in mods if is_delete(m)]
    tables.apply(mods)
    for a, b in ((1, 3), (3, 1), (1, 2), (2, 3), (3, 2), (2, 1)):
        delivered(tables, a, b)
    view = app.describe()["ha"]
    assert (view["role"], view["holder"], view["generation"], view["terms_won"]) == \
        ("master", STANDBY, 9, 1)
    registry = app.metrics.registry
    assert registry.get_sample_value("qroute_controller_role", {"role": "master"}) == 1
    assert registry.get_sample_value("qroute_controller_role", {"role": "slave"}) == 0
    assert registry.get_sample_value("qroute_master_terms_won_total") == 1


def _error(network, dpid, error_type, code, xid=4242, data=bytes(64)):
    error = parser.OFPErrorMsg(network.datapaths[dpid], type_=error_type, code=code, data=data)
    error.xid = xid
    return ofp_event.EventOFPErrorMsg(error)


def _taken_over(app, network, tables):
    _take_over(app, network)
    for dpid in range(1, 6):
        network.answer_read_back(dpid, *tables.read_back(dpid))
    network.clear()


def test_a_stale_role_refusal_stops_writes_at_once(standby, tables, caplog):
    app, network = standby
    _taken_over(app, network, tables)
    with caplog.at_level(logging.ERROR):
        app.openflow_error(_error(network, 2, ofp.OFPET_ROLE_REQUEST_FAILED, ofp.OFPRRFC_STALE))
    assert "a newer master exists" in caplog.text
    learn(network, 4)
    assert writes(network.log) == []
    assert app.describe()["ha"]["role"] == "slave" and app.describe()["ha"]["stale_refusals"] == 1


def test_a_write_of_ours_refused_as_from_a_slave_stops_writes(standby, tables):
    app, network = standby
    _taken_over(app, network, tables)
    learn(network, 4)
    (dpid, flow_mod), *_ = [(d, m) for d, m in writes(network.log) if isinstance(m, parser.OFPFlowMod)]
    network.clear()
    app.openflow_error(_error(network, dpid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE,
                              xid=flow_mod.xid, data=bytes(flow_mod.buf[:64])))
    assert not app.ha.writes_allowed()
    assert app.refused.pairs == {}           # not a pair the switch refused for want of room
    learn(network, 5)
    assert writes(network.log) == []


def test_ryus_lldp_packet_outs_refused_while_slave_are_counted_and_logged_once_per_switch(standby,
                                                                                        caplog):
    app, network = standby
    lldp_out = bytes([4, ofp.OFPT_PACKET_OUT, 0, 64, 0, 0, 0, 99]) + bytes(56)
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        for dpid in (1, 1, 1, 2):
            app.openflow_error(_error(network, dpid, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE,
                                      xid=99, data=lldp_out))
    lines = [r for r in caplog.records if "OFPBRC_IS_SLAVE" in r.getMessage()]
    assert len(lines) == 2 and all(r.levelno == logging.INFO for r in lines)
    assert app.describe()["ha"]["refused_as_slave"] == 4
    assert app.describe()["guards"]["openflow_errors"] == []
    assert app.refused.pairs == {} and app.ha.role.name() == "slave"


def test_a_clean_shutdown_resigns(standby, tables):
    app, network = standby
    _taken_over(app, network, tables)
    app.close()
    assert app.ha.leadership.resigned


def test_ryus_ofctl_does_not_log_the_refused_packet_outs_as_unknown_errors(standby, caplog):
    """Ryu's ofctl service logs each error it did not ask for at ERROR ("unknown error xid
    N"); with HA on, the app's own (decoded, once per switch) line is all that is logged."""
    from ryu.app.ofctl.service import OfctlService

    app, network = standby
    service = OfctlService()
    service._switches[1] = SimpleNamespace(xids={})
    with caplog.at_level(logging.INFO):
        service._handle_reply(_error(network, 1, ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_IS_SLAVE, xid=99))
    assert service.logger.name == "OfctlService"
    assert "unknown error xid" not in caplog.text
