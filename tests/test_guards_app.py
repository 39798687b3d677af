"""App tier of the decision guards and OpenFlow errors: QRouteController on the fake ring of
tests/test_controller_app.py (host i on switch i; from s1 to s3 the short way is 1-2-3, the long
way 1-5-4-3), with a policy that sleeps for the deadline and errors built from the xids the app
used for the fake switches for the refused rules."""
from __future__ import annotations

import dataclasses
import logging
import threading
import time

import eventlet
import eventlet.tpool
import pytest
from ryu.controller import ofp_event
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

import controller.app as app_module
from controller import ofmsgs
from tests.fakes import NEXT_PORT, FakeNetwork, is_add
from tests.tables_sim import assert_record_is_true
from tests import test_controller_app as app_tests
from tests.test_controller_app import (LONG, SHORT, _app_with, _port_down, _record_barriers,
                                       delivered, is_table_mod, learn, paths_of, ring_sim)

# the app tier's fixtures: a home of the test's own, the test clock, spawns recorded, policies inline
home, clock, spawned, wsgi = app_tests.home, app_tests.clock, app_tests.spawned, app_tests.wsgi

REAL_EXECUTE = eventlet.tpool.execute  # the fixtures run policies inline; the deadline needs threads
DECISION_TIMEOUT_S = 0.3


def _ring(app, hosts=(1, 3)):
    network = FakeNetwork(app, n=5)
    _record_barriers(app, network)
    network.start()
    for n in hosts:
        learn(network, n)
    network.clear()
    return network


@pytest.fixture
def ecmp(spawned, wsgi, tmp_path, monkeypatch):
    """An app whose policy is not the fallback itself (shortest paths split over equal-cost
    ones), with a short deadline."""
    return _app_with(f"[qroute]\nsplit = true\ndecision_timeout = {DECISION_TIMEOUT_S}\n",
                     tmp_path, monkeypatch, wsgi)


def _sample(app, name, labels=None):
    return app.metrics.registry.get_sample_value(name, labels or {}) or 0


# --- the deadline ---------------------------------------------------------------------------
class Stuck:
    """A policy decision that blocks until released, then answers the long way for 1 -> 3."""

    def __init__(self, decide):
        self.decide, self.release, self.calls = decide, threading.Event(), 0

    def __call__(self, graph, pairs, current, demand):
        self.calls += 1
        self.release.wait(10)
        return {**self.decide(graph, pairs, current, demand), (1, 3): ((LONG, 1.0),)}


def _until_returned(app, seconds=5.0):
    deadline = time.monotonic() + seconds
    while app.policy_call is not None and time.monotonic() < deadline:
        eventlet.sleep(0.01)
    assert app.policy_call is None


def test_an_overrunning_decision_is_abandoned_and_a_stuck_policy_is_not_asked_again(
        ecmp, monkeypatch, caplog):
    app = ecmp
    net = _ring(app)
    assert paths_of(app, 1, 3) == [SHORT]
    monkeypatch.setattr(app_module.tpool, "execute", REAL_EXECUTE)
    stuck = Stuck(app.policy.decide)
    monkeypatch.setattr(app.policy, "decide", stuck)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        app.reroute("periodic")
    took = time.monotonic() - started
    assert DECISION_TIMEOUT_S <= took < DECISION_TIMEOUT_S + 0.5
    assert paths_of(app, 1, 3) == [SHORT]   # intact: kept
    assert app.status.decisions_abandoned == {"deadline": 1}
    assert any("decision_timeout = 0.3 s" in r.getMessage() for r in caplog.records)
    # a new host while the policy is still stuck: the fallback routes it at once
    started = time.monotonic()
    learn(net, 2)
    assert time.monotonic() - started < DECISION_TIMEOUT_S
    assert stuck.calls == 1
    assert paths_of(app, 1, 2) == [(1, 2)] and paths_of(app, 2, 3) == [(2, 3)]
    assert app.status.decisions_abandoned == {"deadline": 1, "busy": 1}
    assert _sample(app, "qroute_decisions_abandoned_total", {"why": "busy"}) == 1
    guards = app.describe()["guards"]
    assert guards["decisions_abandoned"] == {"busy": 1, "deadline": 1}
    assert "still runs" in guards["last_abandoned"]
    # once it returns (its late answer discarded) the policy is asked again
    stuck.release.set()
    _until_returned(app)
    assert paths_of(app, 1, 3) == [SHORT]
    app.reroute("periodic")
    assert stuck.calls == 2 and paths_of(app, 1, 3) == [LONG]


def test_a_failure_cuts_a_running_wait_short_and_is_repaired_by_the_fallback(ecmp, monkeypatch, caplog):
    app = ecmp
    app.settings = dataclasses.replace(app.settings, decision_timeout=5.0)
    net = _ring(app)
    monkeypatch.setattr(app_module.tpool, "execute", REAL_EXECUTE)
    stuck = Stuck(app.policy.decide)
    monkeypatch.setattr(app.policy, "decide", stuck)
    periodic = eventlet.spawn(app.reroute, "periodic")
    eventlet.sleep(0.05)  # it waits on the policy
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        app.port_status(_port_down(net, 2, NEXT_PORT))  # link 2-3 fails
        periodic.wait()
    took = time.monotonic() - started
    assert took < 1.0   # not the 5 s deadline
    # the decision whose wait was cut short repaired the pair, on the network without 2-3
    assert paths_of(app, 1, 3) == [LONG]
    assert app.status.decisions_abandoned == {"failure": 1}
    assert app.pending_reasons == ["link 2-3 down"]
    app.run_pending_reroutes()   # the failure's own decision: the policy is still stuck
    assert paths_of(app, 1, 3) == [LONG]
    assert app.status.decisions_abandoned == {"failure": 1, "busy": 1}
    assert any("decision abandoned after" in r.getMessage() and "link 2-3 down" in r.getMessage()
               for r in caplog.records)
    sim = ring_sim(net, down=[(2, 3), (3, 2)])
    for dpid, msg in net.history + net.log:
        if dpid != "barrier" and is_table_mod(msg):
            sim.apply([(dpid, msg)])
    assert delivered(sim, 1, 3) == {LONG}
    stuck.release.set()
    _until_returned(app)


# --- the guard ------------------------------------------------------------------------------
def test_a_nan_decision_is_rejected_and_counted_and_intact_splits_stay(ecmp, monkeypatch, caplog):
    app = ecmp
    net = _ring(app)
    decide = app.policy.decide

    def nan_for_1_3(graph, pairs, current, demand):
        return {**decide(graph, pairs, current, demand), (1, 3): ((SHORT, float("nan")),)}

    monkeypatch.setattr(app.policy, "decide", nan_for_1_3)
    with caplog.at_level(logging.ERROR):
        learn(net, 2)
    assert paths_of(app, 1, 3) == [SHORT]
    assert paths_of(app, 1, 2) == [(1, 2)]   # the new pair: the fallback's shortest path
    assert _sample(app, "qroute_decisions_rejected_total", {"reason": "non_finite_weight"}) == 1
    assert app.describe()["guards"]["decisions_rejected"] == {"non_finite_weight": 1}
    assert any("decision rejected" in r.getMessage() for r in caplog.records)


def test_a_decision_loading_a_link_twice_as_much_as_the_fallback_is_rejected(ecmp, monkeypatch):
    app = ecmp
    _ring(app, hosts=(1, 3, 4))
    assert paths_of(app, 1, 4) == [(1, 5, 4)] and paths_of(app, 1, 3) == [SHORT]
    # 5 Mbit/s each on 10 Mbit/s links: 1-3 over 1-2-3 and 1-4 over 1-5-4 load every link to
    # at most 0.5; 1-3 the long way puts both on link 1-5: 1.0
    app.pair_rates.bps.update({(1, 3): 5e6, (1, 4): 5e6})
    decide = app.policy.decide
    monkeypatch.setattr(app.policy, "decide", lambda graph, pairs, current, demand: {
        **decide(graph, pairs, current, demand), (1, 3): ((LONG, 1.0),)})
    app.reroute("periodic")
    assert paths_of(app, 1, 3) == [SHORT]
    last = app.describe()["guards"]["last_rejected"]
    assert "worse_mlu" in last and "1.000" in last and "0.500" in last
    assert _sample(app, "qroute_decisions_rejected_total", {"reason": "worse_mlu"}) == 1


# --- the churn budget -----------------------------------------------------------------------
def test_max_moves_and_hold_down_limit_what_one_decision_moves(spawned, wsgi, tmp_path, monkeypatch, clock):
    app = _app_with("[qroute]\nsplit = true\nmax_moves = 1\nhold_down = 30\n", tmp_path, monkeypatch, wsgi)
    app.clock = clock.monotonic
    _ring(app, hosts=(1, 3, 4))
    app.pair_rates.bps.update({(1, 3): 1e6, (3, 1): 4e6})
    decide = app.policy.decide
    long_ways = {(1, 3): ((LONG, 1.0),), (3, 1): (((3, 4, 5, 1), 1.0),)}
    monkeypatch.setattr(app.policy, "decide", lambda graph, pairs, current, demand: {
        **decide(graph, pairs, current, demand), **long_ways})
    app.reroute("periodic")
    # one move: the larger demand (3 -> 1) goes first
    assert paths_of(app, 3, 1) == [(3, 4, 5, 1)] and paths_of(app, 1, 3) == [SHORT]
    assert app.status.moves_deferred["max_moves"] == 1
    clock.now += 5
    monkeypatch.setattr(app.policy, "decide", decide)  # the short ways again
    app.reroute("periodic")
    # 3 -> 1 moved 5 s ago: held down; 1 -> 3 has nowhere new to go
    assert paths_of(app, 3, 1) == [(3, 4, 5, 1)]
    assert app.status.moves_deferred["hold_down"] == 1
    assert _sample(app, "qroute_moves_deferred_total", {"rule": "hold_down"}) == 1
    clock.now += 30
    app.reroute("periodic")
    assert paths_of(app, 3, 1) == [(3, 2, 1)]


# --- OpenFlow errors ------------------------------------------------------------------------
def _sent(net, dpid, wanted):
    """The last message sent to switch ``dpid`` for which ``wanted(msg)`` holds."""
    found = [msg for d, msg in net.history + net.log if d == dpid and wanted(msg)]
    assert found, dpid
    return found[-1]


def _tunnel_rule_for(label):
    return lambda msg: is_add(msg) and msg.priority == ofmsgs.PRIORITY_TUNNEL and \
        msg.match["vlan_vid"] == ofmsgs.tagged(label)


def _error_for(net, dpid, msg, error_type=ofp.OFPET_FLOW_MOD_FAILED, code=ofp.OFPFMFC_TABLE_FULL):
    error = parser.OFPErrorMsg(net.datapaths[dpid], type_=error_type, code=code, data=bytes(msg.buf[:64]))
    error.xid = msg.xid
    return ofp_event.EventOFPErrorMsg(error)


def _replay_without(net, refused):
    """The ring's tables had the switches applied everything but the ``refused`` messages."""
    sim = ring_sim(net)
    for dpid, msg in net.history + net.log:
        if dpid != "barrier" and is_table_mod(msg) and msg not in refused:
            sim.apply([(dpid, msg)])
    return sim


def test_a_refused_tunnel_rule_is_tied_to_its_pair_shown_not_installed_and_retried_on_one_path(
        ecmp, monkeypatch, caplog):
    app = ecmp
    decide = app.policy.decide
    monkeypatch.setattr(app.policy, "decide", lambda graph, pairs, current, demand: {
        **decide(graph, pairs, current, demand), (1, 3): ((SHORT, 0.5), (LONG, 0.5))})
    net = _ring(app, hosts=(1, 3, 4))
    assert sorted(paths_of(app, 1, 3)) == sorted([SHORT, LONG])
    long_label = app.tunnels.labels[LONG]
    refused = _sent(net, 5, _tunnel_rule_for(long_label))   # switch 5, transit of 1-5-4-3
    with caplog.at_level(logging.ERROR):
        app.openflow_error(_error_for(net, 5, refused))
    logged = [r.getMessage() for r in caplog.records if "OpenFlow error" in r.getMessage()]
    assert len(logged) == 1
    assert "OFPET_FLOW_MOD_FAILED OFPFMFC_TABLE_FULL" in logged[0]
    assert f"tunnel rule for label {long_label} (path 1-5-4-3) add" in logged[0]
    assert "pairs affected: 1-3" in logged[0]
    # the record no longer claims the refused rule: it is what switches that refused it hold
    assert_record_is_true(_replay_without(net, [refused]), app.tunnels)
    view = {(p["src"], p["dst"]): p for p in app.describe()["pairs"]}
    assert view[(1, 3)]["installed"] is False and "OFPFMFC_TABLE_FULL" in view[(1, 3)]["not_installed"]
    assert all(p["installed"] for pair, p in view.items() if pair != (1, 3))
    assert _sample(app, "qroute_pairs_not_installed") == 1
    assert _sample(app, "qroute_pairs_installed") == len(app.tunnels.splits) - 1
    assert _sample(app, "qroute_openflow_errors_total",
                   {"type": "OFPET_FLOW_MOD_FAILED", "code": "OFPFMFC_TABLE_FULL"}) == 1
    assert app.pending_reasons == ["refused rules"]
    # the retry: the pair on its single shortest path; nothing sent for the other pairs
    net.clear()
    app.run_pending_reroutes()
    assert paths_of(app, 1, 3) == [SHORT]
    assert {dpid for dpid, msg in net.log if dpid != "barrier" and is_add(msg)} <= {1}
    sim = _replay_without(net, [refused])
    assert delivered(sim, 1, 3) == {SHORT}
    for a, b in [(1, 4), (4, 1), (3, 4), (4, 3), (3, 1)]:
        assert delivered(sim, a, b)
    assert_record_is_true(sim, app.tunnels)
    assert app.describe()["guards"]["pairs_not_installed"] == []
    assert _sample(app, "qroute_pairs_not_installed") == 0
    assert _sample(app, "qroute_pairs_installed") == len(app.tunnels.splits) == 6


def test_a_refusal_arriving_during_a_plan_comes_off_the_record_once_it_is_committed(ecmp, monkeypatch):
    app = ecmp
    net = _ring(app)
    delivered_errors = []

    def barrier_then_error(dpids, timeout_s=1.0):
        net.log.append(("barrier", frozenset(dpids)))
        label = app.tunnels.pending.labels.get((2, 3, 4))
        sent = [msg for dpid, msg in net.history + net.log if dpid == 3 and
                _tunnel_rule_for(label)(msg)] if label is not None else []
        if sent and not delivered_errors:
            # the tunnel rule at transit switch 3, sent in the phase before this barrier, was
            # refused (a protected hop's rule comes in a later phase than a plain one's)
            msg = sent[-1]
            delivered_errors.append(msg)
            app.openflow_error(_error_for(net, 3, msg))

    app.await_barriers = barrier_then_error
    learn(net, 2)
    learn(net, 4)   # its decision, then the retry the refusal asked for
    (refused,) = delivered_errors
    label = app.tunnels.labels[(2, 3, 4)]
    sent_again = [msg for dpid, msg in net.log if dpid == 3 and msg is not refused
                  and _tunnel_rule_for(label)(msg)]
    assert len(sent_again) == 1 and app.status.reroutes_by_trigger["refused"] == 1
    sim = _replay_without(net, [refused])
    assert delivered(sim, 2, 4) == {(2, 3, 4)}
    assert_record_is_true(sim, app.tunnels)
    assert app.status.not_installed == {}


@pytest.mark.parametrize("network_change", ["link 4-5 up", "switch 2 reconnected"])
def test_repeated_refusals_back_off_then_give_the_pair_up_and_other_pairs_keep_their_rules(
        ecmp, clock, spawned, network_change):
    app = ecmp
    app.clock = clock.monotonic
    net = _ring(app, hosts=(1, 3, 4))
    others = {pair: split for pair, split in app.tunnels.splits.items() if pair != (1, 3)}
    refused_msgs = []

    def refuse_the_1_3_tunnel_at_2():
        label = app.tunnels.labels[SHORT]
        msg = _sent(net, 2, _tunnel_rule_for(label))
        refused_msgs.append(msg)
        app.openflow_error(_error_for(net, 2, msg))

    refuse_the_1_3_tunnel_at_2()                   # the policy's split refused: retried at once
    app.run_pending_reroutes()
    for backoff in (1.0, 2.0):                     # the single path refused: wait, then again
        refuse_the_1_3_tunnel_at_2()
        assert app.pending_reasons == [] and (app._retry_later, backoff) in spawned
        app.reroute("periodic")
        assert (1, 3) not in app.tunnels.splits    # left out while it waits
        clock.now += backoff
        app.reroute("refused rules retry")
        assert paths_of(app, 1, 3) == [SHORT]
    refuse_the_1_3_tunnel_at_2()                   # the third refusal of the single path
    app.reroute("periodic")
    assert (1, 3) not in app.tunnels.splits
    assert "given up after 4 refusals" in app.status.not_installed[(1, 3)]
    assert {pair: split for pair, split in app.tunnels.splits.items()} == others
    clock.now += 100
    app.reroute("periodic")
    assert (1, 3) not in app.tunnels.splits
    app.reroute(network_change)                    # the network changed: tried again
    assert paths_of(app, 1, 3) == [SHORT] and app.status.not_installed == {}


def test_an_error_for_a_message_not_recorded_is_logged_with_its_header_and_changes_nothing(ecmp, caplog):
    app = ecmp
    net = _ring(app)
    record = app.tunnels.record
    error = parser.OFPErrorMsg(net.datapaths[2], type_=ofp.OFPET_BAD_REQUEST, code=ofp.OFPBRC_BAD_TYPE,
                               data=bytes([4, 14, 0, 56, 0, 0, 0, 99]) + bytes(48))
    error.xid = 99_999
    with caplog.at_level(logging.ERROR):
        app.openflow_error(ofp_event.EventOFPErrorMsg(error))
    assert "OFPET_BAD_REQUEST OFPBRC_BAD_TYPE for a message not recorded (xid 99999, OFPT_FLOW_MOD xid 99)" \
        in caplog.text
    assert app.tunnels.record is record and app.pending_reasons == []
    assert app.describe()["guards"]["openflow_errors"] == [
        {"type": "OFPET_BAD_REQUEST", "code": "OFPBRC_BAD_TYPE", "count": 1}]


def test_a_policy_whose_time_limit_reaches_the_deadline_is_warned_about(spawned, wsgi, tmp_path, monkeypatch,
                                                                        caplog):
    with caplog.at_level(logging.WARNING):
        app = _app_with("[qroute]\npolicy = milp\ndecision_timeout = 1.0\n", tmp_path, monkeypatch, wsgi)
    assert app.policy.time_limit == 2.0
    assert any("may take up to 2 s, decision_timeout is 1 s" in r.getMessage() for r in caplog.records)
