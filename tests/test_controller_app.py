"""App tier: QRouteController driven by real Ryu event objects on fake datapaths.

Every message the app sends is serialised by `tests.fakes.FakeDatapath`; the assertions read
the serialised OpenFlow, and the flow and group mods are replayed into simulated switches
(`tests.tables_sim`), through which frames are walked over every bucket of every group. The
topology is a ring of five switches, host i on switch i port 1: between s1 and s3 the short way
is 1-2-3 and the long way 1-5-4-3.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from types import SimpleNamespace

import eventlet
import pytest
from ryu.lib.packet import arp, ethernet, packet
from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser
from webob import Request

import controller.app as app_module
from controller import group_ids, ofmsgs, ryu_options
from controller.settings import Settings
from controller.tunnels import InstalledTunnels
from tests.fakes import (HOST_PORT, NEXT_PORT, PREV_PORT, FakeDatapath, FakeNetwork, arp_frame, ip,
                         ipv4_frame, is_add, is_delete, mac, output_ports, reparse)
from tests.tables_sim import TableSim, assert_record_is_true

# the fixtures below replace these; a test that needs the real ones takes them from here
REAL_SPAWN = app_module.hub.spawn
REAL_AWAIT_BARRIERS = app_module.QRouteController.await_barriers
SHORT, LONG = (1, 2, 3), (1, 5, 4, 3)  # s1 -> s3 both ways round
SHORT_BACK, LONG_BACK = (3, 2, 1), (3, 4, 5, 1)


class FakeWsgi:
    def __init__(self):
        self.registered = []

    def register(self, controller, data):
        self.registered.append((controller, data))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A generated API token goes to ~/.qroute: a home of the test's own."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def spawned(monkeypatch):
    calls = []
    monkeypatch.setattr(app_module.hub, "spawn", lambda *args, **kw: calls.append(args))
    # Run policy decisions inline: no native thread pool in unit tests.
    monkeypatch.setattr(app_module.tpool, "execute", lambda fn, *a, **kw: fn(*a, **kw))
    # Barrier round trips need Ryu's ofctl service and real switches.
    monkeypatch.setattr(app_module.QRouteController, "await_barriers",
                        lambda self, dpids, timeout_s=1.0: None)
    return calls


@pytest.fixture
def wsgi():
    return FakeWsgi()


@pytest.fixture
def app(spawned, clock, wsgi):
    return _controller(wsgi, clock)


def _controller(wsgi, clock):
    app = app_module.QRouteController(wsgi=wsgi)
    app.clock = clock.monotonic
    app.hold.started = clock.now  # it started now, by the test's clock
    return app


def _record_barriers(app, network):
    # Barrier round trips need Ryu's ofctl service; record where the app would wait instead.
    app.await_barriers = lambda dpids, timeout_s=1.0: network.log.append(("barrier", frozenset(dpids)))


@pytest.fixture
def net(app):
    network = FakeNetwork(app, n=5)
    _record_barriers(app, network)
    network.start()
    return network


def learn(net, n):
    """Host n sends an IPv4 packet on its switch's host port."""
    other = 1 if n != 1 else 2
    net.packet_in(n, HOST_PORT, ipv4_frame(n, other))


def paths_of(app, src, dst):
    """The installed paths of the switch pair, heaviest first."""
    return [path for path, _ in sorted(app.tunnels.splits.get((src, dst), ()), key=lambda pw: -pw[1])]


def ring_sim(net, down=()):
    """Simulated switches on the ring's links, minus the directed links in `down`."""
    links = {(s[0], d[0]): (s[1], d[1]) for s, d in net.ring_links()}
    return TableSim({link: ports for link, ports in links.items() if link not in set(down)})


def is_table_mod(msg) -> bool:
    return isinstance(msg, (parser.OFPFlowMod, parser.OFPGroupMod))


def replayed(net, down=(), at_each_barrier=None) -> TableSim:
    """The switches' tables after every flow and group mod the app sent, in order (a strict
    replay: a flow pointing at a missing group, or a group added twice, fails). With
    `at_each_barrier`, it is called with the simulator wherever the app waited for barriers
    since the log was last cleared."""
    sim = ring_sim(net, down)
    current = len(net.history)
    for index, (dpid, msg) in enumerate(net.history + net.log):
        if dpid == "barrier":
            if at_each_barrier and index >= current:
                at_each_barrier(sim)
        elif is_table_mod(msg):
            sim.apply([(dpid, msg)])
    return sim


def delivered(sim, src_n, dst_n) -> set[tuple[int, ...]]:
    """The switch paths a frame from host src_n to host dst_n takes, over every bucket it may
    be hashed onto; each must end untagged on the destination's host port."""
    outcomes = sim.walk(src_n, HOST_PORT, mac(dst_n))
    assert outcomes, (src_n, dst_n)
    for outcome in outcomes:
        assert (outcome.kind, outcome.dpid, outcome.port, outcome.vid) == ("host", dst_n, HOST_PORT, None), \
            (src_n, dst_n, outcome)
    return {outcome.path for outcome in outcomes}


def every_pair_delivered(hosts):
    def check(sim):
        for a in hosts:
            for b in hosts:
                if a != b:
                    delivered(sim, a, b)
    return check


def packet_outs(net):
    return [(dpid, msg) for dpid, msg in net.log if isinstance(msg, parser.OFPPacketOut)]


def sent_kinds(net):
    """The log as words: barrier waits, and what each flow and group mod does."""
    words = []
    for dpid, msg in net.log:
        if dpid == "barrier":
            words.append("barrier")
        elif isinstance(msg, parser.OFPGroupMod):
            words.append({ofp.OFPGC_ADD: "group add", ofp.OFPGC_MODIFY: "group modify",
                          ofp.OFPGC_DELETE: "group delete"}[msg.command])
        elif isinstance(msg, parser.OFPFlowMod):
            role = {ofmsgs.PRIORITY_TUNNEL: "tunnel", ofmsgs.PRIORITY_CLASSIFY: "classify"}.get(
                msg.priority, "other")
            if msg.table_id == ofmsgs.TABLE_DELIVER:
                role = "deliver"
            words.append(f"{role} {'delete' if is_delete(msg) else 'add'}")
    return words


def pin(app, pair, paths, weights=None):
    body = {"paths": [list(p) for p in paths], **({"weights": weights} if weights else {})}
    app.pin(pair, body)
    app.run_pending_reroutes()


# --- construction ---------------------------------------------------------------------------
def test_app_builds_outside_ryu_manager_with_default_settings(app, spawned, wsgi):
    assert app.settings == Settings()
    assert [args[1] for args in spawned if len(args) > 1] == ["statistics poll", "re-optimisation",
                                                              "host claims", "resync"]
    assert (app._rerouter,) in spawned
    # the REST API with the app, the dashboard's static files without it
    assert [controller.__name__ for controller, _ in wsgi.registered] == ["QRouteRest", "QRouteUi"]
    assert wsgi.registered[0][1]["qroute_app"] is app


def test_load_settings_exits_naming_the_bad_option(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.conf"
    bad.write_text("[qroute]\nrouting_weight = fastest\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(bad)]))
    with pytest.raises(SystemExit) as exited:
        ryu_options.load_settings()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "routing_weight" in err and str(bad) in err


def test_metrics_on_the_rest_port_is_refused_at_start_up(tmp_path, monkeypatch, capsys):
    conf = tmp_path / "clash.conf"
    conf.write_text("[qroute]\nmetrics_port = 18099\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)], wsapi_port=18099))
    with pytest.raises(SystemExit) as exited:
        ryu_options.load_settings()
    assert exited.value.code == 2 and "--wsapi-port" in capsys.readouterr().err


def test_a_metrics_port_in_use_is_reported_and_the_controller_runs_on(spawned, wsgi, tmp_path,
                                                                      monkeypatch, caplog):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR):
            app = _app_with(f"[qroute]\nmetrics_port = {port}\n", tmp_path, monkeypatch, wsgi)
    assert f"metrics_port {port} cannot be served" in app.status.metrics_problem
    assert app.describe()["metrics_problem"] == app.status.metrics_problem
    assert any("metrics are off" in r.getMessage() for r in caplog.records)
    net = FakeNetwork(app, n=5)
    net.start()
    learn(net, 1)
    learn(net, 3)
    assert paths_of(app, 1, 3) == [SHORT]


def test_load_settings_reads_the_config_files(tmp_path, monkeypatch):
    good = tmp_path / "good.conf"
    good.write_text("[qroute]\nstats_interval = 0.5\nrest_api = off\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(good)]))
    settings = ryu_options.load_settings()
    assert settings.stats_interval == 0.5 and settings.rest_api is False


# --- switch connect ---------------------------------------------------------------------------
def test_connect_reads_the_switch_back_deletes_nothing_and_installs_base_rules(app):
    net = FakeNetwork(app, n=1)
    dp = net.connect(1, answer=False)
    assert not [m for m in dp.sent if is_table_mod(m)]   # nothing changes before the read-back
    kinds = [type(m).__name__ for m in dp.sent]
    assert kinds == ["OFPPortDescStatsRequest", "OFPFlowStatsRequest", "OFPGroupDescStatsRequest"]
    (request,) = [m for m in dp.sent if isinstance(m, parser.OFPFlowStatsRequest)]
    assert (request.cookie, request.cookie_mask) == (ofmsgs.APP_COOKIE << 32, ofmsgs.APP_COOKIE_MASK)
    assert app.datapaths == {1: dp} and app.state.switches == {1}
    assert app.state.ports[1] == {1, 2, 3}  # OFPP_LOCAL is not an edge port
    assert app.resync_reason() == "reading back switch 1"
    net.answer_read_back(1)   # an empty switch: it gets the base rules
    assert app.resync_reason() == "" and app.describe()["resync"]["switches"]["1"]["state"] == "read back"
    assert not [m for m in dp.sent if is_delete(m)]
    assert not [m for m in dp.sent if isinstance(m, parser.OFPGroupMod)]
    adds = [reparse(dp, m) for m in dp.sent if is_add(m)]
    assert len(adds) == len(ofmsgs.base_rules())
    by_place = {(m.table_id, m.priority): m for m in adds}
    miss = by_place[(0, ofmsgs.PRIORITY_MISS)]
    assert list(miss.match.items()) == []
    assert output_ports(miss) == [ofp.OFPP_CONTROLLER]
    apply = next(i for i in miss.instructions if isinstance(i, parser.OFPInstructionActions))
    assert apply.actions[0].max_len == ofp.OFPCML_NO_BUFFER
    arp_rule = by_place[(0, ofmsgs.PRIORITY_ARP)]
    assert dict(arp_rule.match.items()) == {"eth_type": ether.ETH_TYPE_ARP, "eth_dst": "ff:ff:ff:ff:ff:ff"}
    assert output_ports(arp_rule) == [ofp.OFPP_CONTROLLER]
    assert all(m.cookie >> 32 == ofmsgs.APP_COOKIE for m in adds)


# --- ARP --------------------------------------------------------------------------------------
def test_arp_request_for_known_host_is_answered_to_the_in_port(net, app):
    learn(net, 3)
    net.clear()
    net.packet_in(1, HOST_PORT, arp_frame(arp.ARP_REQUEST, 1, ip(3)))
    outs = packet_outs(net)
    assert len(outs) == 1
    dpid, out = outs[0]
    assert dpid == 1
    assert [a.port for a in out.actions] == [HOST_PORT]
    reply = packet.Packet(out.data)
    eth, answer = reply.get_protocol(ethernet.ethernet), reply.get_protocol(arp.arp)
    assert answer.opcode == arp.ARP_REPLY
    assert (answer.src_mac, answer.src_ip) == (mac(3), ip(3))
    assert (answer.dst_mac, answer.dst_ip) == (mac(1), ip(1))
    assert (eth.src, eth.dst) == (mac(3), mac(1))
    assert app.state.hosts[mac(1)].ip == ip(1)  # the asker was learned on the way


def test_arp_request_for_unknown_target_floods_only_edge_ports_once(net, app):
    request = arp_frame(arp.ARP_REQUEST, 1, ip(3))
    net.packet_in(1, HOST_PORT, request)
    outs = packet_outs(net)
    targets = sorted((dpid, a.port) for dpid, out in outs for a in out.actions)
    # Every switch's host port except the asker's own; never a ring port.
    assert targets == [(d, HOST_PORT) for d in (2, 3, 4, 5)]
    assert all(out.data == request for _, out in outs)

    net.clear()
    net.packet_in(1, HOST_PORT, request)        # the host retries at once
    net.packet_in(2, PREV_PORT, request)        # or a copy arrives over a link
    assert packet_outs(net) == []


def test_a_retried_request_for_a_known_host_is_answered_but_a_copy_is_not(net, app):
    learn(net, 3)
    request = arp_frame(arp.ARP_REQUEST, 1, ip(3))
    net.packet_in(1, HOST_PORT, request)
    net.clear()
    net.packet_in(1, HOST_PORT, request)        # the host retries: its reply was lost
    assert [(dpid, [a.port for a in out.actions]) for dpid, out in packet_outs(net)] == [
        (1, [HOST_PORT])]
    net.clear()
    net.packet_in(2, HOST_PORT, request)        # the same request seen elsewhere: a copy
    assert packet_outs(net) == []
    assert app.state.hosts[mac(1)].dpid == 1


def test_arp_request_is_flooded_again_after_the_window(net, app, clock):
    request = arp_frame(arp.ARP_REQUEST, 1, ip(3))
    net.packet_in(1, HOST_PORT, request)
    net.clear()
    clock.now += app.settings.arp_flood_window + 0.01
    net.packet_in(1, HOST_PORT, request)
    assert len(packet_outs(net)) == 4


def test_arp_reply_is_delivered_to_the_asker_and_teaches_the_target(net, app):
    net.packet_in(1, HOST_PORT, arp_frame(arp.ARP_REQUEST, 1, ip(3)))
    net.clear()
    net.packet_in(3, HOST_PORT, arp_frame(arp.ARP_REPLY, 3, ip(1), dst_mac=mac(1)))
    outs = packet_outs(net)
    assert [(d, [a.port for a in o.actions]) for d, o in outs] == [(1, [HOST_PORT])]
    assert set(app.state.hosts) == {mac(1), mac(3)}
    assert app.tunnels.splits  # both ends known: tunnels installed


def test_host_learning_on_a_link_port_is_refused(net, app):
    net.packet_in(2, PREV_PORT, ipv4_frame(1, 3))
    assert mac(1) not in app.state.hosts


def test_non_ip_non_arp_frame_is_dropped_not_flooded(net, app):
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst="ff:ff:ff:ff:ff:ff", src=mac(1), ethertype=0x86DD))
    pkt.add_protocol(b"x" * 40)
    pkt.serialize()
    net.packet_in(1, HOST_PORT, bytes(pkt.data))
    assert net.log == [] and app.state.hosts == {}


# --- tunnels and groups -----------------------------------------------------------------------
def test_two_hosts_get_a_tunnel_each_way_with_the_app_cookie(net, app):
    learn(net, 1)
    assert app.tunnels.splits == {}  # a lone host has no pair: only its own delivery rules
    assert set(sent_kinds(net)) - {"barrier"} == {"classify add", "deliver add"}
    learn(net, 3)
    assert app.tunnels.splits == {(1, 3): ((SHORT, 1.0),), (3, 1): ((SHORT_BACK, 1.0),)}
    sim = replayed(net)
    assert delivered(sim, 1, 3) == {SHORT} and delivered(sim, 3, 1) == {SHORT_BACK}
    # s1 holds one select group towards s3 with one full-weight bucket into the tunnel
    _, groups = sim.contents(1)
    assert groups == {3: ((app.tunnels.labels[SHORT], 1000, NEXT_PORT),)}
    for dpid, msg in net.log:
        if is_add(msg):
            wire = reparse(net.datapaths[dpid], msg)
            assert wire.cookie >> 32 == ofmsgs.APP_COOKIE
            assert 1 <= wire.cookie & 0xFFFFFFFF <= app.tunnels.epoch  # the decision that sent it
    # the packet that taught s3's host is delivered to its destination
    assert any(d == 1 and o.actions[0].port == HOST_PORT for d, o in packet_outs(net))


def test_a_weighted_split_reaches_the_switches_as_bucket_weights(net, app):
    for n in (1, 3):
        learn(net, n)
    pin(app, (1, 3), [SHORT, LONG], [3, 1])
    assert app.tunnels.splits[(1, 3)] == ((SHORT, 0.75), (LONG, 0.25))
    sim = replayed(net)
    _, groups = sim.contents(1)
    labels = app.tunnels.labels
    assert groups[3] == ((labels[SHORT], 750, NEXT_PORT), (labels[LONG], 250, PREV_PORT))
    assert delivered(sim, 1, 3) == {SHORT, LONG}


def test_every_barrier_boundary_delivers_every_pair_and_no_bucket_meets_a_missing_tunnel(net, app):
    for n in (1, 2, 3, 4):
        learn(net, n)
    checks = every_pair_delivered((1, 2, 3, 4))
    for paths, weights in (([SHORT, LONG], [1, 1]), ([LONG], None), ([SHORT], None)):
        net.clear()
        pin(app, (1, 3), paths, weights)
        assert paths_of(app, 1, 3) == list(paths) or set(paths_of(app, 1, 3)) == set(paths)
        sim = replayed(net, at_each_barrier=checks)
        checks(sim)
        assert "barrier" in sent_kinds(net), "the change was sent in one phase"
        kinds = sent_kinds(net)
        if "tunnel add" in kinds:  # new tunnels are in place before any bucket points at them
            assert kinds.index("tunnel add") < kinds.index("barrier") < kinds.index("group modify")
        if "tunnel delete" in kinds:  # and leave only after no bucket uses them
            assert kinds.index("group modify") < kinds.index("tunnel delete")
            assert "barrier" in kinds[kinds.index("group modify"):kinds.index("tunnel delete")]
        assert_record_is_true(sim, app.tunnels)


def test_a_weight_change_is_one_group_modification(net, app):
    for n in (1, 3):
        learn(net, n)
    pin(app, (1, 3), [SHORT, LONG], [1, 1])
    net.clear()
    pin(app, (1, 3), [SHORT, LONG], [4, 1])
    mods = [(d, m) for d, m in net.log if is_table_mod(m)]
    assert [(d, type(m).__name__, m.command) for d, m in mods] == [(1, "OFPGroupMod", ofp.OFPGC_MODIFY)]
    assert [b.weight for b in mods[0][1].buckets] == [800, 200]
    assert app.tunnels.splits[(1, 3)] == ((SHORT, 0.8), (LONG, 0.2))


def test_port_down_drops_its_buckets_at_once_then_the_decision_reroutes(net, app):
    for n in (1, 3):
        learn(net, n)
    pin(app, (1, 3), [SHORT, LONG], [1, 1])
    net.clear()
    net.port_status(2, NEXT_PORT, ofp.OFPPR_MODIFY, state=ofp.OFPPS_LINK_DOWN)
    assert (2, 3) not in app.state.links and (3, 2) not in app.state.links
    first = next((d, m) for d, m in net.log if is_table_mod(m))
    # before any decision: s1 stops hashing into the tunnel over 2-3
    assert first[0] == 1 and isinstance(first[1], parser.OFPGroupMod)
    assert first[1].command == ofp.OFPGC_MODIFY and len(first[1].buckets) == 1
    assert net.log.index(first) < next(i for i, (d, _) in enumerate(net.log) if d == "barrier")
    # the pin's short path broke: the policy routes the pair, the long way
    assert paths_of(app, 1, 3) == [LONG] and paths_of(app, 3, 1) == [LONG_BACK]
    sim = replayed(net, down={(2, 3), (3, 2)})
    assert delivered(sim, 1, 3) == {LONG} and delivered(sim, 3, 1) == {LONG_BACK}
    assert_record_is_true(sim, app.tunnels)


def test_a_port_no_longer_live_with_its_carrier_up_loses_its_link_until_live_again(net, app):
    # BFD on the link: the switch clears the port's LIVE flag, its carrier stays up, and LLDP
    # discovery (which still holds the link) will not announce it again
    for n in (1, 3):
        learn(net, n)
    net.port_status(2, NEXT_PORT, ofp.OFPPR_MODIFY, state=ofp.OFPPS_LIVE)
    assert (2, 3) in app.state.links and paths_of(app, 1, 3) == [SHORT]
    net.port_status(2, NEXT_PORT, ofp.OFPPR_MODIFY, state=0)
    assert (2, 3) not in app.state.links and (3, 2) not in app.state.links
    assert paths_of(app, 1, 3) == [LONG]
    net.port_status(2, NEXT_PORT, ofp.OFPPR_MODIFY, state=ofp.OFPPS_LIVE)
    ports = app.state.links[(2, 3)]
    assert (ports.src_port, ports.dst_port) == (NEXT_PORT, PREV_PORT) and (3, 2) in app.state.links
    assert paths_of(app, 1, 3) == [SHORT]


def test_every_hop_is_protected_and_the_switches_bypass_a_dead_cable_on_their_own(net, app):
    learn(net, 1)
    learn(net, 3)
    # 1-2-3 and 3-2-1, each hop with a backup: 1-5-4-3 (without s2), 2-1-5-4-3 (s3 is the
    # egress: without the cable only), 3-4-5-1, 2-3-4-5-1
    assert app.describe()["protection"] == {"enabled": True, "backup_tunnels": 4,
                                            "protected_hops": 4, "unprotected_hops": 0}
    sim = replayed(net)
    sim.set_down((1, 2))
    assert delivered(sim, 1, 3) == {(1, 5, 4, 3)} and delivered(sim, 3, 1) == {(3, 2, 3, 4, 5, 1)}
    sim.set_down((2, 3))
    assert delivered(sim, 1, 3) == {(1, 2, 1, 5, 4, 3)} and delivered(sim, 3, 1) == {(3, 4, 5, 1)}


def test_a_switch_that_never_reports_live_is_judged_by_its_carrier(net, app):
    net.port_status(2, NEXT_PORT, ofp.OFPPR_MODIFY, state=0)
    assert (2, 3) in app.state.links


def test_port_admin_down_and_port_delete_also_remove_the_link(net, app):
    net.port_status(1, NEXT_PORT, ofp.OFPPR_MODIFY, config=ofp.OFPPC_PORT_DOWN)
    assert (1, 2) not in app.state.links and (2, 1) not in app.state.links
    net.port_status(4, PREV_PORT, ofp.OFPPR_DELETE)
    assert (4, 3) not in app.state.links and (3, 4) not in app.state.links
    assert PREV_PORT not in app.state.ports[4]


def test_link_add_restores_the_shorter_path_and_the_old_tunnel_leaves_last(net, app):
    learn(net, 1)
    learn(net, 3)
    for src, dst in net.link_between(2, 3):
        net.link_delete(src, dst)
    assert paths_of(app, 1, 3) == [LONG]
    long_label = app.tunnels.labels[LONG]
    (forward, backward) = net.link_between(2, 3)   # (2->3), (3->2)
    net.clear()
    net.link_add(*forward)      # 1->3 can take the short way again; 3->1 cannot yet
    assert paths_of(app, 1, 3) == [SHORT] and paths_of(app, 3, 1) == [LONG_BACK]
    kinds = sent_kinds(net)
    assert kinds.index("tunnel add") < kinds.index("group modify") < kinds.index("tunnel delete")
    sim = replayed(net, down={(3, 2)})
    assert delivered(sim, 1, 3) == {SHORT} and delivered(sim, 3, 1) == {LONG_BACK}
    assert all(("tunnel", long_label) not in sim.contents(d)[0] for d in (4, 5))  # no rule left behind
    net.clear()
    net.link_add(*backward)
    assert paths_of(app, 3, 1) == [SHORT_BACK]
    assert_record_is_true(replayed(net), app.tunnels)


def test_a_link_event_off_the_path_sends_nothing(net, app):
    # without local protection: with it, 4-5 carries the backup of s1->s3's hops, and its loss
    # replaces that backup (tests/test_protection.py)
    app.tunnels = InstalledTunnels(protect=False)
    learn(net, 1)
    learn(net, 3)
    net.clear()
    for src, dst in net.link_between(4, 5):
        net.link_delete(src, dst)
    assert [m for _, m in net.log if is_table_mod(m)] == []
    assert paths_of(app, 1, 3) == [SHORT]


def test_an_unreachable_pair_loses_its_group_and_tunnels(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    for a, b in ((4, 5), (2, 3)):  # the first cut is off the path
        for src, dst in net.link_between(a, b):
            net.link_delete(src, dst)
    assert app.tunnels.splits == {} and app.tunnels.labels == {}
    sim = replayed(net, down={(2, 3), (3, 2), (4, 5), (5, 4)})
    for dpid in range(1, 6):
        rules, groups = sim.contents(dpid)
        assert groups == {} and not [key for key in rules if key[0] == "tunnel"], dpid
    assert sim.walk(1, HOST_PORT, mac(3))[0].kind == "controller"  # not classified any more


def test_switch_leaving_reroutes_around_it(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    net.disconnect(2)
    assert 2 not in app.datapaths and 2 not in app.state.switches
    assert paths_of(app, 1, 3) == [LONG]
    assert all(dpid != 2 for dpid, _ in net.log)  # nothing is sent to a dead switch


def test_reroute_without_changes_sends_nothing(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    assert app.reroute("periodic") == 0
    assert net.log == []


# --- statistics -------------------------------------------------------------------------------
def test_poll_asks_every_switch_for_ports_and_host_switches_for_group_stats(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    app._poll_stats()
    port_requests = [(d, m) for d, m in net.log if isinstance(m, parser.OFPPortStatsRequest)]
    group_requests = [(d, m) for d, m in net.log if isinstance(m, parser.OFPGroupStatsRequest)]
    assert sorted(d for d, _ in port_requests) == [1, 2, 3, 4, 5]
    assert sorted(d for d, _ in group_requests) == [1, 3]  # where hosts attach: the ingresses
    assert all(m.port_no == ofp.OFPP_ANY for _, m in port_requests)
    assert all(m.group_id == ofp.OFPG_ALL for _, m in group_requests)


def test_group_stats_at_the_ingress_become_switch_pair_demand(net, app):
    for n in (1, 3):
        learn(net, n)
    pin(app, (1, 3), [SHORT, LONG], [3, 1])
    net.group_stats(1, {3: (600, 400)}, age_s=10.0)
    # 2.5 MB over 2 s of the group's life = 10 Mbit/s entering s1 for s3, however late the
    # reply arrives; 3/4 of it went into the short tunnel
    net.group_stats(1, {3: (600 + 1_875_000, 400 + 625_000), 77: 5}, age_s=12.0)
    net.group_stats(2, {3: 9_000_000}, age_s=12.0)  # s2 has no group of qroute's
    assert app.pair_rates.bps == {(1, 3): pytest.approx(10e6)}
    view = {(p["src"], p["dst"]): p for p in app.describe()["pairs"]}[(1, 3)]
    assert view["demand_bps"] == pytest.approx(10e6)
    assert [(tuple(t["path"]), t["weight"], t["bps"]) for t in view["paths"]] == [
        (SHORT, 0.75, pytest.approx(7.5e6)), (LONG, 0.25, pytest.approx(2.5e6))]
    assert [t["label"] for t in view["paths"]] == [app.tunnels.labels[SHORT], app.tunnels.labels[LONG]]
    pin(app, (1, 3), [SHORT, LONG], [1, 1])  # reweighted: Open vSwitch resets the counters
    net.group_stats(1, {3: 125_000}, age_s=13.0)
    assert app.pair_rates.bps[(1, 3)] == pytest.approx(10e6)  # no rate from a reset counter
    net.group_stats(1, {3: 250_000}, age_s=14.0)
    assert app.pair_rates.bps[(1, 3)] == pytest.approx(1e6)


def test_port_stats_replies_become_link_load_and_utilisation(net, app, clock):
    net.port_stats(1, {NEXT_PORT: 1_000, HOST_PORT: 0, ofp.OFPP_LOCAL: 0})
    assert app.state.load_bps == {}  # one sample gives no rate
    clock.now += 2.0
    # 2.5 MB in 2 s on s1's ring port = 10 Mbit/s = the default 10 Mbit/s capacity
    net.port_stats(1, {NEXT_PORT: 1_000 + 2_500_000, HOST_PORT: 999, ofp.OFPP_LOCAL: 5})
    assert app.state.load_bps == {(1, 2): pytest.approx(10e6)}
    assert app.state.utilisation((1, 2)) == pytest.approx(1.0)
    links = {(link["src"], link["dst"]): link for link in app.describe()["links"]}
    assert links[(1, 2)]["utilisation"] == pytest.approx(1.0)
    assert links[(2, 1)]["utilisation"] == 0.0
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 10})  # counters reset (switch restart): keep the last rate
    assert app.state.load_bps[(1, 2)] == pytest.approx(10e6)


def test_the_timer_decides_only_while_a_link_reaches_reoptimize_above(net, app, clock, monkeypatch):
    """reoptimize_above: the policy is not asked on the timer while every link's measured
    utilisation (from port stats) is under it; a new host is decided however idle."""
    asked = []

    class CountingPolicy:  # decides as shortest paths do; counts the calls
        name = description = "counting"

        def decide(self, graph, pairs, current=None, demand_bps=None):
            asked.append(sorted(pairs))
            return app.fallback_policy.decide(graph, pairs, current, demand_bps)

    monkeypatch.setattr(app, "settings", dataclasses.replace(app.settings, reoptimize_above=0.5))
    monkeypatch.setattr(app, "policy", CountingPolicy())
    learn(net, 1)
    learn(net, 3)
    net.port_stats(1, {NEXT_PORT: 0})
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 1_000_000})  # 4 Mbit/s of 10 on s1 -> s2: 0.4
    asked.clear()
    app.request_reroute("periodic")
    assert app.run_pending_reroutes() == 0 and asked == []
    skipped = app.metrics.registry.get_sample_value("qroute_reoptimisations_skipped_total")
    assert skipped == 1
    learn(net, 2)  # a new host: decided
    assert asked and (2, 1) in asked[-1] and paths_of(app, 2, 1)
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 1_000_000 + 1_250_000})  # 5 Mbit/s: 0.5, reached
    asked.clear()
    app.request_reroute("periodic")
    app.run_pending_reroutes()
    assert len(asked) == 1


def test_port_rates_are_timed_by_the_port_age_not_by_reply_arrival(net, app):
    net.port_stats(1, {NEXT_PORT: 0}, age_s=100.0)
    # two replies handled back to back, 2 s apart in the switch's own clock: 2.5 MB in 2 s
    net.port_stats(1, {NEXT_PORT: 2_500_000}, age_s=102.0)
    assert app.state.load_bps[(1, 2)] == pytest.approx(10e6)


def test_port_rates_of_a_switch_without_port_durations_are_timed_by_reply_arrival(net, app, clock):
    net.port_stats(1, {NEXT_PORT: 0}, age_known=False)
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 2_500_000}, age_known=False)
    assert app.state.load_bps[(1, 2)] == pytest.approx(10e6)
    clock.now += 0.01  # a delayed reply handled right after: no rate from 10 ms
    net.port_stats(1, {NEXT_PORT: 2_600_000}, age_known=False)
    assert app.state.load_bps[(1, 2)] == pytest.approx(10e6)
    clock.now += 1.99  # the next rate spans the 2 s since the last one used
    net.port_stats(1, {NEXT_PORT: 5_000_000}, age_known=False)
    assert app.state.load_bps[(1, 2)] == pytest.approx(10e6)


@pytest.mark.parametrize("loaded_port, expected", [(NEXT_PORT, (1, 4, 3)),
                                                   (PREV_PORT, (1, 2, 3))])
def test_utilisation_weight_steers_around_a_loaded_link(loaded_port, expected, spawned, clock,
                                                        wsgi, tmp_path, monkeypatch):
    app = _app_with("[qroute]\nrouting_weight = utilisation\n", tmp_path, monkeypatch, wsgi)
    app.clock = clock.monotonic
    net = FakeNetwork(app, n=4)  # s1 to s3: 1-2-3 or 1-4-3, equal hops
    net.start()
    net.port_stats(1, {NEXT_PORT: 0, PREV_PORT: 0})
    clock.now += 1.0
    net.port_stats(1, {NEXT_PORT: 0, PREV_PORT: 0, loaded_port: 1_250_000})  # 10 Mbit/s
    learn(net, 1)
    learn(net, 3)
    assert paths_of(app, 1, 3) == [expected]


def _app_with(conf_text, tmp_path, monkeypatch, wsgi):
    conf = tmp_path / "q.conf"
    conf.write_text(conf_text)
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    return app_module.QRouteController(wsgi=wsgi)


def _ring_with_all_hosts(app):
    net = FakeNetwork(app, n=5)
    _record_barriers(app, net)
    net.start()
    for n in range(1, 6):
        learn(net, n)
    return net


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
@pytest.mark.parametrize("split", ["auto", "false"])
def test_learned_policy_gives_every_pair_a_split_over_its_candidates(kind, split, spawned, wsgi,
                                                                    tmp_path, monkeypatch):
    app = _app_with(f"[qroute]\npolicy = {kind}\nsplit = {split}\n", tmp_path, monkeypatch, wsgi)
    assert app.policy.kind == kind and app.status.policy_problem == ""
    assert app.describe()["policy"].startswith(f"{kind} router, k=3")
    # no margin for keeping what is installed: every decision is the policy's fresh one
    monkeypatch.setattr(app.policy, "keep_margin", 0.0)
    monkeypatch.setattr(app.policy, "min_gain", 0.0)
    net = _ring_with_all_hosts(app)
    assert len(app.tunnels.splits) == 20 and app.describe()["last_decision_error"] == ""
    # what is installed is the learned policy's own decision: asked afresh, it decides the same
    assert app.policy.decide(app.state.graph(), app.state.switch_pairs(), {}, {}) == app.tunnels.splits
    assert app.policy.split is (split == "auto")  # auto: the shipped checkpoint is a split one
    if split == "false":
        assert {len(split_) for split_ in app.tunnels.splits.values()} == {1}
    sim = replayed(net)
    for (src, dst), split_ in app.tunnels.splits.items():
        assert delivered(sim, src, dst) == {path for path, _ in split_}
        assert sum(weight for _, weight in split_) == pytest.approx(1.0)


@pytest.mark.parametrize("policy, widest", [("milp", 1), ("lp", 2)])
def test_optimum_policies_route_every_pair(policy, widest, spawned, wsgi, tmp_path, monkeypatch):
    app = _app_with(f"[qroute]\npolicy = {policy}\n", tmp_path, monkeypatch, wsgi)
    assert app.describe()["policy_name"] == policy and app.status.policy_problem == ""
    net = _ring_with_all_hosts(app)
    assert len(app.tunnels.splits) == 20 and app.describe()["last_decision_error"] == ""
    assert max(len(split) for split in app.tunnels.splits.values()) <= widest
    sim = replayed(net)
    for (src, dst), split in app.tunnels.splits.items():
        assert delivered(sim, src, dst) == {path for path, _ in split}


def test_unusable_checkpoint_is_reported_and_shortest_paths_keep_forwarding(spawned, wsgi, tmp_path,
                                                                            monkeypatch, caplog):
    import shutil

    from qnn.models.checkpoint import SHIPPED_DIR

    broken = tmp_path / "broken.pt"
    shutil.copy(SHIPPED_DIR / "qnn-abilene-single.json", tmp_path / "broken.json")
    broken.write_bytes(b"not the weights the sidecar describes")
    with caplog.at_level(logging.ERROR):
        app = _app_with(f"[qroute]\npolicy = qnn\ncheckpoint = {broken}\n", tmp_path, monkeypatch, wsgi)
    assert app.policy.name == "shortest-path"
    assert "policy qnn unavailable" in app.status.policy_problem and str(broken) in app.status.policy_problem
    assert "checksum mismatch" in app.status.policy_problem
    assert any("routing by shortest path instead" in r.getMessage() for r in caplog.records)
    assert app.describe()["policy_problem"] == app.status.policy_problem
    net = FakeNetwork(app, n=5)
    net.start()
    learn(net, 1)
    learn(net, 3)
    assert paths_of(app, 1, 3) == [SHORT]


def test_a_failing_learned_decision_keeps_intact_splits_and_routes_the_rest(spawned, wsgi, tmp_path,
                                                                            monkeypatch, caplog):
    app = _app_with("[qroute]\npolicy = qnn\n", tmp_path, monkeypatch, wsgi)
    net = FakeNetwork(app, n=5)
    net.start()
    decide = app.policy.decide

    def the_long_way(graph, pairs, current, *rest):  # as if the QNN had chosen it
        return {**decide(graph, pairs, current, *rest), (1, 3): ((LONG, 1.0),)}

    monkeypatch.setattr(app.policy, "decide", the_long_way)
    learn(net, 1)
    learn(net, 3)
    assert paths_of(app, 1, 3) == [LONG]

    def broken(*args, **kwargs):
        raise RuntimeError("inference failed")

    monkeypatch.setattr(app.policy, "decide", broken)
    with caplog.at_level(logging.ERROR):
        learn(net, 2)  # a new host: a decision is needed, and it fails
    assert paths_of(app, 1, 3) == [LONG]  # intact: not moved
    assert paths_of(app, 1, 2) == [(1, 2)] and paths_of(app, 2, 3) == [(2, 3)]
    assert any("policy qnn failed" in r.getMessage() for r in caplog.records)
    assert "inference failed" in app.describe()["last_decision_error"]
    assert app.describe()["policy_failures"] == 1
    assert app.metrics.registry.get_sample_value("qroute_policy_failures_total") == 1


def test_a_policy_that_fails_to_build_in_any_way_leaves_shortest_paths_forwarding(
        spawned, wsgi, tmp_path, monkeypatch, caplog):
    import controller.demand_policies

    def unexpected(*args, **kwargs):
        raise AttributeError("'str' object has no attribute 'get'")

    monkeypatch.setattr(controller.demand_policies, "LearnedPolicy", unexpected)
    with caplog.at_level(logging.ERROR):
        app = _app_with("[qroute]\npolicy = qnn\n", tmp_path, monkeypatch, wsgi)
    assert app.policy.name == "shortest-path" and "AttributeError" in app.status.policy_problem
    net = FakeNetwork(app, n=5)
    net.start()
    learn(net, 1)
    learn(net, 3)
    assert paths_of(app, 1, 3) == [SHORT]


def test_checkpoint_of_the_other_kind_is_refused(spawned, wsgi, tmp_path, monkeypatch):
    app = _app_with("[qroute]\npolicy = qnn\ncheckpoint = mlp-abilene-single\n", tmp_path, monkeypatch, wsgi)
    assert app.policy.name == "shortest-path" and "holds a mlp model" in app.status.policy_problem


# --- periodic work ----------------------------------------------------------------------------
class _Stop(BaseException):
    pass


def test_periodic_loop_logs_an_exception_and_keeps_going(app, monkeypatch, caplog):
    sleeps = []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) > 3:
            raise _Stop

    calls = []

    def work():
        calls.append(1)
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module.hub, "sleep", fake_sleep)
    with caplog.at_level(logging.ERROR), pytest.raises(_Stop):
        app._periodic("unit work", 2.0, work)
    assert len(calls) == 3
    failures = [r for r in caplog.records if "unit work failed" in r.getMessage()]
    assert len(failures) == 3 and all(r.exc_info and r.exc_info[0] is RuntimeError
                                      for r in failures)
    assert all(1.8 <= s <= 2.2 for s in sleeps)  # ±10 % jitter around the interval


# --- the rerouting greenthread ---------------------------------------------------------------
def test_event_handlers_only_ask_for_a_decision(net, app, monkeypatch):
    decisions = []
    monkeypatch.setattr(app, "reroute", lambda reason: decisions.append(reason) or 0)
    app.packet_in(_ipv4_packet_in(net, 1, 2))
    app.port_status(_port_down(net, 2, NEXT_PORT))
    assert decisions == []
    assert app.pending_reasons == [f"host {mac(1)} seen", "link 2-3 down"]
    assert app.reroute_wanted.is_set() and app.describe()["rerouting"] is True


def test_a_burst_of_events_costs_one_decision_covering_all_of_them(net, app):
    for n in (1, 2, 3, 4):
        app.packet_in(_ipv4_packet_in(net, n, 5))
    assert app.status.reroutes == 0
    app.run_pending_reroutes()
    assert app.status.reroutes == 1 and app.describe()["rerouting"] is False
    assert len(app.tunnels.splits) == 4 * 3
    assert app.run_pending_reroutes() == 0 and app.status.reroutes == 1  # nothing asked since


def test_a_decision_answering_several_kinds_of_event_counts_under_each(net, app):
    app.packet_in(_ipv4_packet_in(net, 1, 2))
    app.packet_in(_ipv4_packet_in(net, 2, 1))
    app.run_pending_reroutes()
    app.packet_in(_ipv4_packet_in(net, 3, 4))
    app.request_reroute("periodic")
    app.port_status(_port_down(net, 2, NEXT_PORT))
    app.run_pending_reroutes()

    def count(trigger):
        return app.metrics.registry.get_sample_value("qroute_reroutes_total", {"trigger": trigger}) or 0

    assert app.status.reroutes == 2
    assert (count("host"), count("periodic"), count("link")) == (2, 1, 1)


def test_rerouter_logs_a_failed_decision_and_keeps_going(app, monkeypatch, caplog):
    rounds = []

    def wait(timeout=None):
        if len(rounds) == 3:
            raise _Stop
        rounds.append(1)
        app.pending_reasons.append("periodic")

    def broken(reason):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.reroute_wanted, "wait", wait)
    monkeypatch.setattr(app, "reroute", broken)
    app.hold.ended_at = app.clock()  # no switch will connect: no start-up hold to wait out
    with caplog.at_level(logging.ERROR), pytest.raises(_Stop):
        app._rerouter()
    failures = [r for r in caplog.records if "rerouting failed" in r.getMessage()]
    assert len(failures) == 3 and app.pending_reasons == []


def test_a_link_failing_during_a_decision_does_not_cost_intact_splits_their_rules(net, app, monkeypatch):
    app.tunnels = InstalledTunnels(protect=False)  # (as above: 4-5 carries backups otherwise)
    learn(net, 1)
    learn(net, 3)
    assert paths_of(app, 1, 3) == [SHORT]
    decide = app.policy.decide

    def decided_before_the_failure(graph, pairs, current, *rest):
        # what a decision started earlier returns: the long way round for 1->3, over 4-5 ...
        decided = {**decide(graph, pairs, current, *rest), (1, 3): ((LONG, 1.0),)}
        # ... whose link 4-5 fails while it runs
        app.state.remove_link(4, 5)
        app.state.remove_link(5, 4)
        return decided

    monkeypatch.setattr(app.policy, "decide", decided_before_the_failure)
    net.clear()
    app.reroute("periodic")
    assert paths_of(app, 1, 3) == [SHORT]
    assert not [m for _, m in net.log if is_table_mod(m)]


def test_a_host_moving_during_a_decision_gets_nothing_towards_its_old_switch(net, app, monkeypatch):
    learn(net, 1)
    learn(net, 3)
    decide = app.policy.decide

    def decided_before_the_move(graph, pairs, current, *rest):
        decided = decide(graph, pairs, current, *rest)
        # host 3 shows up on switch 4 (port 1 there) while the decision runs
        app.state.learn_host(mac(3), 4, HOST_PORT)
        return decided

    monkeypatch.setattr(app.policy, "decide", decided_before_the_move)
    app.reroute("periodic")
    assert (1, 3) not in app.tunnels.splits and (3, 1) not in app.tunnels.splits  # s3 has no host now
    sim = replayed(net)
    assert sim.walk(1, HOST_PORT, mac(3))[0].kind == "controller"  # not sent towards s3
    monkeypatch.setattr(app.policy, "decide", decide)
    app.reroute("host moved")  # the decision the move asked for
    assert paths_of(app, 1, 4) == [(1, 5, 4)]
    sim = replayed(net)
    moved = sim.walk(1, HOST_PORT, mac(3))
    assert [(o.kind, o.dpid, o.port) for o in moved] == [("host", 4, HOST_PORT)]


def reconnect(net, dpid, answer=True):
    """The switch connects again holding what it was sent (the replayed log) and answers the
    read-back with it."""
    flows, groups = replayed(net).read_back(dpid)
    return net.connect(dpid, flows, groups, answer=answer)


def answer_from_tables(net, dpid):
    net.answer_read_back(dpid, *replayed(net).read_back(dpid))


def test_a_switch_reconnecting_while_the_policy_runs_keeps_its_rules_and_nothing_is_resent(
        net, app, monkeypatch):
    learn(net, 1)
    learn(net, 3)
    decide = app.policy.decide

    def decided_while_s2_reconnects(*args):
        net._handle = lambda handler, event: handler(event)  # the rerouter is busy here
        reconnect(net, 2)  # read back: it holds what it had
        del net._handle
        return decide(*args)

    monkeypatch.setattr(app.policy, "decide", decided_while_s2_reconnects)
    net.clear()
    epoch = app.tunnels.epoch
    assert app.reroute("periodic") == 0
    assert [m for _, m in net.log if is_table_mod(m) and not is_add(m)] == []
    assert_record_is_true(replayed(net), app.tunnels)
    monkeypatch.setattr(app.policy, "decide", decide)
    assert app.pending_reasons == ["switch 2 read back"]
    app.run_pending_reroutes()
    assert app.tunnels.epoch == epoch  # nothing to install


@pytest.mark.parametrize("host_2_moves", [False, True])
def test_a_switch_reconnecting_during_the_barrier_waits_holds_exactly_the_tracked_rules(
        net, app, clock, host_2_moves):
    """What a decision sent a switch before it reconnected may be lost, what it sent after
    reached the new connection; the switch is read again after the plan, and the follow-up
    decision leaves every switch holding exactly what the app tracks, even when a host moved
    meanwhile. Decisions wait while the switch is read."""
    learn(net, 1)
    learn(net, 3)
    reconnected = []

    def barrier_wait_during_which_s2_reconnects(dpids, timeout_s=1.0):
        if not reconnected:
            reconnected.append(2)
            net._handle = lambda handler, event: handler(event)  # the rerouter is busy here
            # the connection dropped: the messages of this phase to s2 are lost
            net.log[:] = [(d, m) for d, m in net.log if d != 2 or not is_table_mod(m)]
            reconnect(net, 2)
            if host_2_moves:
                net.packet_in(4, HOST_PORT, ipv4_frame(2, 1))  # host 2 now sends from s4
                # its old port is up: the move counts once a probe there goes unanswered
                clock.now += app.settings.host_probe_timeout
                app._settle_host_claims()
            del net._handle

    app.await_barriers = barrier_wait_during_which_s2_reconnects
    learn(net, 2)  # a new host: one decision, whose barrier wait sees s2 reconnect
    assert reconnected == [2] and app.state.hosts[mac(2)].dpid == (4 if host_2_moves else 2)
    assert app.resync_reason() == "reading back switch 2"   # read again after the plan
    answer_from_tables(net, 2)
    assert app.pending_reasons == [] and app.held_reasons == []
    sim = replayed(net)
    assert_record_is_true(sim, app.tunnels)
    every_pair_delivered((1, 2, 3) if not host_2_moves else (1, 3))(sim)


def _ipv4_packet_in(net, src_n, dst_n):
    msg = parser.OFPPacketIn(net.datapaths[src_n], buffer_id=ofp.OFP_NO_BUFFER, total_len=0,
                             reason=ofp.OFPR_NO_MATCH, table_id=0, cookie=0,
                             match=parser.OFPMatch(in_port=HOST_PORT), data=ipv4_frame(src_n, dst_n))
    return app_module.ofp_event.EventOFPPacketIn(msg)


def _port_down(net, dpid, port_no):
    msg = parser.OFPPortStatus(net.datapaths[dpid], reason=ofp.OFPPR_MODIFY,
                               desc=net.port(port_no, state=ofp.OFPPS_LINK_DOWN))
    return app_module.ofp_event.EventOFPPortStatus(msg)


def test_barriers_of_all_switches_are_awaited_at_once(net, app, monkeypatch, caplog):
    in_flight, most = set(), []

    def send_msg(app_, request, reply_cls=None):
        in_flight.add(request.datapath.id)
        most.append(len(in_flight))
        try:
            eventlet.sleep(0.01 if request.datapath.id != 3 else 10)  # switch 3 never answers
        finally:
            in_flight.discard(request.datapath.id)

    monkeypatch.setattr(app_module.hub, "spawn", REAL_SPAWN)
    monkeypatch.setattr(app_module.ofctl_api, "send_msg", send_msg)
    with caplog.at_level(logging.WARNING):
        silent = REAL_AWAIT_BARRIERS(app, {1, 2, 3, 4, 5, 99}, timeout_s=0.2)  # 99: not connected
    assert silent == {3} and max(most) == 5 and in_flight == set()
    logged = [r.getMessage() for r in caplog.records if "no barrier reply" in r.getMessage()]
    assert len(logged) == 1 and "from 0000000000000003 (<Timeout" in logged[0]


# --- REST view and control ----------------------------------------------------------------------
def test_describe_reports_hosts_pairs_and_settings(net, app):
    learn(net, 1)
    learn(net, 3)
    view = app.describe()
    assert view["switches"] == [1, 2, 3, 4, 5]
    assert [h["mac"] for h in view["hosts"]] == [mac(1), mac(3)]
    pairs = {(p["src"], p["dst"]): p for p in view["pairs"]}
    assert set(pairs) == {(1, 3), (3, 1)}
    assert pairs[(1, 3)]["paths"] == [{"path": [1, 2, 3], "weight": 1.0, "label": app.tunnels.labels[SHORT],
                                       "bps": None}]
    assert pairs[(1, 3)]["demand_bps"] is None and view["tunnels"] == 2
    assert view["settings"]["routing_weight"] == "hops"
    assert view["epoch"] == app.tunnels.epoch >= 1
    assert (view["policy_name"], view["policy"], view["policy_problem"]) == \
        ("shortest-path", "shortest-path", "")
    json.dumps(view)  # all of it serialisable
    assert "api_token" not in json.dumps(view["settings"]) or view["settings"]["api_token"] in ("", "(set)")


@pytest.fixture
def rest(spawned, clock, tmp_path, monkeypatch):
    """The app behind Ryu's real WSGI application: (app, net, call(method, path, body, token))."""
    from ryu.app.wsgi import WSGIApplication  # once controller.app has patched eventlet for it

    conf = tmp_path / "q.conf"
    conf.write_text("[qroute]\napi_token = s3cret\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    wsgi = WSGIApplication()
    app = app_module.QRouteController(wsgi=wsgi)
    app.clock = clock.monotonic
    net = FakeNetwork(app, n=5)
    _record_barriers(app, net)
    net.start()
    for n in (1, 3):
        learn(net, n)

    def call(method, path, body=None, token="s3cret"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        response = Request.blank(f"/qroute/v1/{path}", method=method, headers=headers,
                                 body=data or b"").get_response(wsgi)
        app.run_pending_reroutes()  # as the rerouting greenthread would
        return response.status_int, json.loads(response.body)

    return app, net, call


def test_a_pin_through_the_api_is_installed_and_removed(rest):
    app, net, call = rest
    status, reply = call("PUT", "pins/1-3", {"paths": [list(LONG), list(SHORT)], "weights": [1, 3]})
    assert status == 200 and reply["weights"] == [0.25, 0.75]
    assert app.tunnels.splits[(1, 3)] == ((LONG, 0.25), (SHORT, 0.75))
    assert delivered(replayed(net), 1, 3) == {SHORT, LONG}
    assert call("GET", "pins", token=None) == (200, [{"src": 1, "dst": 3, "paths": [list(LONG), list(SHORT)],
                                                       "weights": [0.25, 0.75]}])
    assert call("DELETE", "pins/1-3")[0] == 200
    assert paths_of(app, 1, 3) == [SHORT]  # the policy's own choice again
    assert call("DELETE", "pins/1-3")[0] == 404


@pytest.mark.parametrize("method, path, body, token, status, says", [
    ("PUT", "pins/1-3", {"paths": [[1, 2, 3]]}, None, 401, "Authorization: Bearer"),
    ("PUT", "pins/1-3", {"paths": [[1, 2, 3]]}, "wrong", 403, "not the controller's"),
    ("PUT", "pins/1-3", b"{not json", "s3cret", 400, "not JSON"),
    ("PUT", "pins/1-3", {"paths": [[1, 2, 3]], "weight": [1]}, "s3cret", 400, "unknown field"),
    ("PUT", "pins/1-3", {"paths": [[1, 3]]}, "s3cret", 400, "does not see: 1-3"),
    ("PUT", "pins/1-3", {"paths": [["1", 2, 3]]}, "s3cret", 400, "dpids (integers)"),
    ("PUT", "pins/1-9", {"paths": [[1, 9]]}, "s3cret", 404, "switch 9 is not connected"),
    ("PUT", "pins/one-3", {"paths": [[1, 2, 3]]}, "s3cret", 400, "<src dpid>-<dst dpid>"),
    ("DELETE", "pins/1-3", None, None, 401, "Authorization: Bearer"),
])
def test_a_bad_write_gets_a_4xx_and_changes_nothing(rest, method, path, body, token, status, says):
    app, net, call = rest
    before = dict(app.tunnels.splits)
    net.clear()
    got, reply = call(method, path, body, token)
    assert (got, says in reply["error"]) == (status, True), reply
    assert app.tunnels.splits == before and app.pins.splits == {}
    assert not [m for _, m in net.log if is_table_mod(m)]


# --- reconnects -------------------------------------------------------------------------------
def test_switch_reconnecting_before_its_old_connection_dies_keeps_its_rules(net, app):
    """Ryu's dpset notes a switch may reconnect before the old connection is seen to drop.
    The new connection reads the switch back (nothing is deleted or sent again, not even the
    base rules, which are in place), and the old connection's late DEAD event must not take
    the live switch away."""
    learn(net, 1)
    learn(net, 3)
    old = net.datapaths[2]
    net.clear()
    new = reconnect(net, 2)
    assert all(msg.datapath is new for msg in new.sent)
    assert [m for m in new.sent if is_table_mod(m)] == []
    sim = replayed(net)
    assert_record_is_true(sim, app.tunnels)
    assert delivered(sim, 1, 3) == {SHORT}
    net.clear()
    net.state_change(old, app_module.DEAD_DISPATCHER)
    assert app.datapaths[2] is new and 2 in app.state.switches
    assert paths_of(app, 1, 3) == [SHORT]
    assert [m for _, m in net.log if is_table_mod(m)] == []


def test_a_reconnected_switch_read_back_lets_moving_a_pair_delete_its_old_tunnel_everywhere(
        net, app, monkeypatch):
    decide = app.policy.decide

    def the_long_way(graph, pairs, current, *rest):
        return {**decide(graph, pairs, current, *rest), (1, 3): ((LONG, 1.0),)}

    monkeypatch.setattr(app.policy, "decide", the_long_way)
    learn(net, 1)
    learn(net, 3)
    assert paths_of(app, 1, 3) == [LONG]
    label = app.tunnels.labels[LONG]
    monkeypatch.setattr(app.policy, "decide", decide)
    net.clear()
    reconnect(net, 5)  # read back; the decision it asks for takes 1->3 the short way
    assert paths_of(app, 1, 3) == [SHORT]
    # the old tunnel's rules on s4 and s5 are deleted, not left behind
    sim = replayed(net)
    assert ("tunnel", label) not in sim.contents(4)[0]
    assert ("tunnel", label) not in sim.contents(5)[0]
    assert_record_is_true(sim, app.tunnels)
    assert app.status.pairs_rerouted == 1


# --- hostile hosts (controller.edge_guard wired into the app) -------------------------------
def test_a_port_flooding_the_controller_is_blocked_in_its_switch_and_its_packet_ins_ignored(net, app):
    budget = app.settings.packet_in_port_budget
    for _ in range(budget):
        net.packet_in(1, HOST_PORT, ipv4_frame(1, 2))
    net.clear()
    net.packet_in(1, HOST_PORT, ipv4_frame(1, 2))  # one over the budget
    drops = [m for dpid, m in net.log if dpid == 1 and is_add(m)]
    assert {m.match["in_port"] for m in drops} == {HOST_PORT} and len(drops) == 2
    assert all(m.hard_timeout == app.settings.port_block_seconds and m.instructions == []
               for m in drops)
    net.clear()
    for n in range(50):  # spoofed sources while the drop rule is on its way: nothing learned
        net.packet_in(1, HOST_PORT, arp_frame(arp.ARP_REQUEST, 100 + n, ip(3)))
    assert net.log == [] and not any(h.mac == mac(100) for h in app.state.hosts.values())
    assert app.describe()["edge"]["ports_blocked_total"] == 1


def test_a_host_claiming_another_hosts_ip_is_probed_for_refused_and_shown_in_rest(net, app, clock):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    claim = packet.Packet()  # the host on s2 says it is 10.0.0.3
    claim.add_protocol(ethernet.ethernet(dst="ff:ff:ff:ff:ff:ff", src=mac(2), ethertype=ether.ETH_TYPE_ARP))
    claim.add_protocol(arp.arp(opcode=arp.ARP_REQUEST, src_mac=mac(2), src_ip=ip(3),
                               dst_mac="00:00:00:00:00:00", dst_ip=ip(1)))
    claim.serialize()
    net.packet_in(2, HOST_PORT, bytes(claim.data))
    outs = [(dpid, m) for dpid, m in net.log if isinstance(m, parser.OFPPacketOut)]
    assert [(dpid, m.actions[0].port) for dpid, m in outs] == [(3, HOST_PORT)]  # the probe, to h3
    probe = packet.Packet(outs[0][1].data).get_protocol(arp.arp)
    assert (probe.dst_ip, probe.src_mac) == (ip(3), "02:71:72:6f:75:fe")
    net.packet_in(3, HOST_PORT, arp_frame(arp.ARP_REPLY, 3, "0.0.0.0", dst_mac=probe.src_mac))
    clock.now += 5
    app._settle_host_claims()
    assert app.state.host_by_ip(ip(3)).mac == mac(3) and mac(2) not in app.state.hosts
    edge = app.describe()["edge"]
    assert edge["hosts_refused"] == {"ip_claim_answered": 1}
    assert edge["recent_refusals"][0]["mac"] == mac(2) and edge["pending_claims"] == []
    json.dumps(edge)


def test_refusals_are_counted_in_the_metrics(net, app):
    from prometheus_client import generate_latest

    for n in range(app.settings.max_hosts_per_port + 2):  # spoofed sources on s1's host port
        net.packet_in(1, HOST_PORT, arp_frame(arp.ARP_REQUEST, 100 + n, ip(3)))
    text = generate_latest(app.metrics.registry).decode()
    assert 'qroute_hosts_refused_total{reason="port_limit"} 2.0' in text
    assert "qroute_ports_blocked_total 0.0" in text and "qroute_dpid_takeovers_refused_total 0.0" in text


def test_a_host_behind_a_port_reported_down_moves_without_a_probe(net, app):
    learn(net, 1)
    ports = [net.port(HOST_PORT, state=ofp.OFPPS_LINK_DOWN), net.port(NEXT_PORT), net.port(PREV_PORT)]
    reply = parser.OFPPortDescStatsReply(net.datapaths[1], body=ports)
    app.port_desc(app_module.ofp_event.EventOFPPortDescStatsReply(reply))
    net.clear()
    net.packet_in(2, HOST_PORT, ipv4_frame(1, 3))  # host 1 now on s2
    assert app.state.hosts[mac(1)].dpid == 2
    assert not [m for _, m in net.log if isinstance(m, parser.OFPPacketOut)]  # no probe


# --- restart: the state file and the read-back ----------------------------------------------
def _restarted(wsgi, clock):
    """A new controller process (same settings, same home: the same state file)."""
    app = app_module.QRouteController(wsgi=wsgi)
    app.clock = clock.monotonic
    app.hold.started = clock.now  # it started now, by the test's clock
    network = FakeNetwork(app, n=5)
    _record_barriers(app, network)
    return app, network


def _connect_holding(network, tables, dpid):
    network.connect(dpid, *tables.read_back(dpid))


def test_a_restarted_controller_knows_hosts_and_paths_at_once_and_changes_nothing(net, app, spawned,
                                                                                   clock, wsgi):
    for n in (1, 3, 4):
        learn(net, n)
    tables = replayed(net)
    before = dict(app.tunnels.splits), dict(app.tunnels.labels), app.tunnels.epoch
    hosts = {m: (h.dpid, h.port, h.ip) for m, h in app.state.hosts.items()}
    again, network = _restarted(wsgi, clock)
    # hosts known before any switch connects (the ARP proxy can answer for them at once)
    assert {m: (h.dpid, h.port, h.ip) for m, h in again.state.hosts.items()} == hosts
    for dpid in (1, 2, 3, 4):
        _connect_holding(network, tables, dpid)
        assert again.resync_reason().endswith(" 5 of the state file to connect and be read back")
        assert again.tunnels.epoch == before[2]
    _connect_holding(network, tables, 5)
    assert again.resync_reason() == ""   # links restored from the file once both ports were there
    for src, dst in network.ring_links():  # LLDP confirms them: nothing to do
        network.link_add(src, dst)
    assert (dict(again.tunnels.splits), dict(again.tunnels.labels), again.tunnels.epoch) == before
    assert [m for _, m in network.log if is_table_mod(m)] == []   # not even the base rules
    assert not again.provisional_links
    assert_record_is_true(tables, again.tunnels)
    # and it goes on deciding as before: a new host's tunnels get fresh labels, nothing deleted
    learn(network, 2)
    assert again.tunnels.epoch == before[2] + 1
    assert not [m for _, m in network.log if is_delete(m)]
    assert len(set(again.tunnels.labels.values())) == len(again.tunnels.labels)


def test_a_corrupt_state_file_is_reported_and_the_switches_keep_forwarding(net, app, spawned, clock,
                                                                           wsgi, home, caplog):
    learn(net, 1)
    learn(net, 3)
    tables = replayed(net)
    (home / ".qroute" / "state.json").write_text('{"format": "qroute-state", "version": 1, "hosts": 7}')
    with caplog.at_level(logging.ERROR):
        again, network = _restarted(wsgi, clock)
    assert any("state file" in r.getMessage() and "'hosts' is not a list" in r.getMessage()
               for r in caplog.records)
    assert again.describe()["resync"]["state_file_problem"].startswith("state file ")
    assert again.state.hosts == {}
    _connect_holding(network, tables, 1)
    # s1's groups send to s3 (and its tunnels leave by ports whose links are not known yet)
    assert "switch 3" in again.resync_reason()
    for dpid in (2, 3, 4, 5):
        _connect_holding(network, tables, dpid)
    assert "waiting for the links" in again.resync_reason()
    for src, dst in network.ring_links():
        network.link_add(src, dst)
    assert again.resync_reason() == ""
    # hosts known again from the delivery rules; the paths decided again are the installed ones
    assert {m: (h.dpid, h.port) for m, h in again.state.hosts.items()} == {mac(1): (1, 1), mac(3): (3, 1)}
    assert paths_of(again, 1, 3) == [SHORT]
    assert not [m for _, m in network.log if is_delete(m)]
    sim = replayed(net)
    for dpid, msg in network.log:
        if is_table_mod(msg):
            sim.apply([(dpid, msg)])
    assert_record_is_true(sim, again.tunnels)
    assert delivered(sim, 1, 3) == {SHORT} and delivered(sim, 3, 1) == {SHORT_BACK}


def test_the_start_up_hold_ends_after_the_timeout_when_a_saved_switch_never_comes(net, app, spawned,
                                                                                 clock, wsgi):
    learn(net, 1)
    learn(net, 3)
    tables = replayed(net)
    again, network = _restarted(wsgi, clock)
    for dpid in (1, 2, 3, 4):
        _connect_holding(network, tables, dpid)
    network.packet_in(4, HOST_PORT, ipv4_frame(4, 1))   # a new host: its decision waits
    assert again.tunnels.epoch == app.tunnels.epoch and again.held_reasons
    assert again.describe()["rerouting"] is True
    clock.now += again.settings.resync_timeout
    again.check_resync()
    while again.pending_reasons:
        again.run_pending_reroutes()
    assert again.resync_reason() == "" and again.tunnels.epoch == app.tunnels.epoch + 1
    assert (4, 1) in again.tunnels.splits


def test_multipart_read_back_replies_are_adopted_once_the_last_part_arrived(net, app):
    learn(net, 1)
    learn(net, 3)
    tables = replayed(net)
    net.connect(1, answer=False)
    assert app.resync_reason() == "reading back switch 1"
    net.answer_read_back(1, *tables.read_back(1), parts=3)
    assert app.resync_reason() == ""
    # every rule and group s1 holds but the base rules (tunnel, backup and classification rules,
    # delivery, the select group to s3 and the fast-failover groups of its hops), as its table has them
    flows, groups = tables.read_back(1)
    assert app.describe()["resync"]["switches"]["1"]["entries"] == \
        len(flows) - len(ofmsgs.base_rules()) + len(groups)
    assert_record_is_true(replayed(net), app.tunnels)


def test_an_older_versions_arp_rule_read_back_is_deleted_and_nothing_else(net, app):
    learn(net, 1)
    learn(net, 3)
    tables = replayed(net)
    old_arp = parser.OFPFlowMod(datapath=None, cookie=ofmsgs.cookie(0), cookie_mask=0, table_id=0,
                                command=ofp.OFPFC_ADD, idle_timeout=0, hard_timeout=0,
                                priority=ofmsgs.PRIORITY_ARP, buffer_id=ofp.OFP_NO_BUFFER,
                                out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, flags=0,
                                match=parser.OFPMatch(eth_type=ether.ETH_TYPE_ARP),
                                instructions=[parser.OFPInstructionActions(
                                    ofp.OFPIT_APPLY_ACTIONS, [ofmsgs.to_controller()])])
    tables.apply([(2, old_arp)])
    net.clear()
    dp = net.connect(2, *tables.read_back(2))
    (delete,) = [reparse(dp, m) for m in dp.sent if is_delete(m)]
    assert (delete.command, delete.priority, dict(delete.match.items())) == (
        ofp.OFPFC_DELETE_STRICT, ofmsgs.PRIORITY_ARP, {"eth_type": ether.ETH_TYPE_ARP})
    assert delete.cookie_mask == ofmsgs.APP_COOKIE_MASK
    tables.apply([(2, m) for m in dp.sent if is_table_mod(m)])
    rules, _ = tables.contents(2)
    assert ("base", 0, ofmsgs.PRIORITY_ARP, (("eth_type", ether.ETH_TYPE_ARP),)) not in rules
    assert app.describe()["resync"]["switches"]["2"]["stale_deleted"] == 1
    assert app.metrics.stale_entries_deleted._value.get() == 1
    assert_record_is_true(tables, app.tunnels)


def test_a_state_file_link_lldp_never_confirms_is_removed_after_the_hold(net, app, spawned, clock,
                                                                         wsgi):
    learn(net, 1)
    learn(net, 3)
    tables = replayed(net)
    again, network = _restarted(wsgi, clock)
    for dpid in range(1, 6):
        _connect_holding(network, tables, dpid)
    assert again.resync_reason() == "" and {(1, 2), (2, 1)} <= set(again.state.links)
    assert paths_of(again, 1, 3) == [SHORT]
    for src, dst in network.ring_links():   # LLDP finds every link but s1-s2 (a cable moved)
        if {src[0], dst[0]} != {1, 2}:
            network.link_add(src, dst)
    clock.now += again.settings.resync_timeout
    again.check_resync()
    while again.pending_reasons:
        again.run_pending_reroutes()
    assert not {(1, 2), (2, 1)} & set(again.state.links) and not again.provisional_links
    assert paths_of(again, 1, 3) == [LONG]


class FakeAbilene(FakeNetwork):
    """Abilene's switches (dpid = node index + 1) and links, each switch's host on port 1 and
    its links on ports 2, 3, ... in the order of its neighbours' dpids."""

    def __init__(self, app):
        from topologies.catalog import abilene_links

        super().__init__(app, n=12)
        pairs = sorted({(src, dst) for src, dst, _, _ in abilene_links(1.0)})
        neighbours = {n: sorted({b for a, b in pairs if a == n}) for n in range(1, 13)}
        self.port_of = {(a, b): 2 + neighbours[a].index(b) for a, b in pairs}
        self.links = [((a, self.port_of[(a, b)]), (b, self.port_of[(b, a)])) for a, b in pairs]

    def ring_links(self):
        return self.links

    def connect(self, dpid: int, flows=(), groups=(), answer: bool = True):
        dp = FakeDatapath(dpid, self.log)
        self.datapaths[dpid] = dp
        features = parser.OFPSwitchFeatures(dp, datapath_id=dpid, n_buffers=0, n_tables=254,
                                            auxiliary_id=0, capabilities=0)
        events = app_module.ofp_event
        self._handle(self.app.switch_features, events.EventOFPSwitchFeatures(features))
        self.state_change(dp, app_module.MAIN_DISPATCHER)
        ports = [HOST_PORT] + sorted(p for (a, _), p in self.port_of.items() if a == dpid)
        reply = parser.OFPPortDescStatsReply(dp, body=[self.port(p) for p in ports] +
                                             [self.port(ofp.OFPP_LOCAL)])
        self._handle(self.app.port_desc, events.EventOFPPortDescStatsReply(reply))
        if answer:
            self.answer_read_back(dpid, flows, groups)
        return dp


@pytest.mark.parametrize("kind", ["dote", "figret"])
def test_dote_on_abilene_installs_its_splits_over_the_checkpoints_paths(kind, spawned, wsgi, tmp_path,
                                                                        monkeypatch):
    from qnn.problems import candidate_pathset, load_network

    app = _app_with(f"[qroute]\npolicy = {kind}\ntopology = abilene\n", tmp_path, monkeypatch, wsgi)
    assert app.status.policy_problem == "" and app.describe()["policy_name"] == kind
    monkeypatch.setattr(app.policy, "keep_margin", 0.0)
    monkeypatch.setattr(app.policy, "min_gain", 0.0)
    net = FakeAbilene(app)
    _record_barriers(app, net)
    net.start()
    for n in range(1, 13):
        learn(net, n)
    assert len(app.tunnels.splits) == 132 and app.describe()["last_decision_error"] == ""
    # the paths the checkpoint was trained with (its recorded rule), in switch dpids
    pathset, _ = candidate_pathset("abilene", load_network("abilene"), 3)
    trained = {(s + 1, t + 1): {tuple(n + 1 for n in path) for path in paths if path}
               for (s, t), paths in zip(pathset.demands, pathset.paths)}
    assert any(len(split) > 1 for split in app.tunnels.splits.values())
    sim = replayed(net)
    for pair, split in app.tunnels.splits.items():
        assert {path for path, _ in split} <= trained[pair]
        assert sum(weight for _, weight in split) == pytest.approx(1.0)
        assert delivered(sim, *pair) == {path for path, _ in split}


@pytest.mark.parametrize("applied", [True, False], ids=["silent-switch-applied", "silent-switch-lost-it"])
@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_a_switch_silent_after_a_phase_stops_the_plan_and_the_next_decision_goes_on_from_the_tables(
        net, app, stop_after, applied):
    """No barrier reply from one switch of phase `stop_after`: the later phases are not sent,
    so nothing points at what it may lack and the installed pairs keep being delivered (a
    strict replay of what was sent); the switches the plan reached are read back, and the
    decision after that leaves every switch holding exactly what the app tracks."""
    learn(net, 1)
    learn(net, 3)
    net.clear()
    phases = []

    def one_switch_silent_once(dpids, timeout_s=None):
        net.log.append(("barrier", frozenset(dpids)))
        phases.append(set(dpids))
        if len(phases) != stop_after:
            return set()
        silent = max(dpids)
        if not applied:  # its messages of this phase never reached its tables
            phase_start = max((i for i, (d, _) in enumerate(net.log[:-1]) if d == "barrier"), default=-1)
            net.log[:] = [(d, m) for i, (d, m) in enumerate(net.log)
                          if not (i > phase_start and d == silent and is_table_mod(m))]
        return {silent}

    app.await_barriers = one_switch_silent_once
    learn(net, 2)  # a new host: a decision of four phases (protection on), three barrier waits
    assert len(phases) == stop_after  # nothing was sent after the silent phase's barrier
    sent_to = {d for d, m in net.log if d != "barrier" and is_table_mod(m)} | phases[-1]
    assert app.tunnels.reread == sorted(sent_to)
    assert app.resync_reason().startswith("reading back switch")
    entry = app.decisions.describe()["decisions"][-1]
    assert entry["aborted"] == [max(phases[-1])] and entry["changes"] == []
    assert app.metrics.plans_aborted._value.get() == 1
    every_pair_delivered((1, 3))(replayed(net))

    app.await_barriers = lambda dpids, timeout_s=None: net.log.append(("barrier", frozenset(dpids)))
    for dpid in sorted(sent_to):
        answer_from_tables(net, dpid)
    assert app.resync_reason() == "" and app.pending_reasons == [] and app.held_reasons == []
    sim = replayed(net)
    assert_record_is_true(sim, app.tunnels)
    every_pair_delivered((1, 2, 3))(sim)
    assert app.decisions.describe()["decisions"][-1]["aborted"] == []


def test_a_switch_that_stays_silent_after_a_stopped_plan_is_given_up_and_decisions_go_on(net, app, clock):
    """The switch that stopped the plan does not answer its read-back either: decisions wait
    for it resync_timeout at most, then the periodic resync check (every 0.5 s in the app; here
    called by hand, the fixture runs no timers) takes it as holding nothing and the next
    decision runs."""
    learn(net, 1)
    learn(net, 3)
    stopped = []

    def silent_once(dpids, timeout_s=None):
        stopped.append(max(dpids))
        return {max(dpids)} if len(stopped) == 1 else set()

    app.await_barriers = silent_once
    learn(net, 2)
    silent, epoch = stopped[0], app.tunnels.epoch
    for dpid in app.tunnels.reread:
        if dpid != silent:
            answer_from_tables(net, dpid)
    assert app.resync_reason() == f"reading back switch {silent}"
    app.request_reroute("periodic")
    app.run_pending_reroutes()
    assert app.tunnels.epoch == epoch  # still waiting
    clock.now += app.settings.resync_timeout
    app.check_resync()  # the periodic tick
    app.run_pending_reroutes()
    assert app.resync_reason() == "" and app.readback.sync[silent].failed
    assert app.tunnels.epoch > epoch and app.decisions.describe()["decisions"][-1]["aborted"] == []
    assert {(1, 2), (2, 1), (2, 3), (3, 2)} <= set(app.tunnels.splits)


def test_a_policy_with_a_history_period_is_told_the_controllers_clock(net, app, clock, monkeypatch):
    """dote/figret with history_period > 0 place each demand in its period by the time the
    decision asks at (the controller's clock, not the policy's own); the others get no time."""
    asked = []

    class PeriodPolicy:  # decides as shortest paths do; records the time it is told
        name = description = "period"
        history_period = 0.0

        def decide(self, graph, pairs, current=None, demand_bps=None, now=None):
            asked.append(now)
            return app.fallback_policy.decide(graph, pairs, current, demand_bps)

    monkeypatch.setattr(app, "policy", PeriodPolicy())
    learn(net, 1)
    learn(net, 3)
    assert asked and set(asked) == {None}
    app.policy.history_period = 10.0
    clock.now += 7.0
    app.reroute("periodic")
    assert asked[-1] == clock.now


# --- Open vSwitch's default dpids (48-bit, from a MAC address) ------------------------------
OVS_BASE = 0x0000_0A1B_2C3D_4E00


def _ovs_ring_installed(wsgi, clock):
    """A 3-switch ring with Open vSwitch-style dpids, a host on each, every pair routed; the
    state file removed, as if the controller were restarted without one. Returns the dpids and
    the switches' tables (a strict replay of what was sent)."""
    dpids = [OVS_BASE + n for n in (1, 2, 3)]
    first = _controller(wsgi, clock)
    net = FakeNetwork(first, n=3, dpid_base=OVS_BASE)
    _record_barriers(first, net)
    net.start()
    for n, dpid in enumerate(dpids, start=1):
        net.packet_in(dpid, HOST_PORT, ipv4_frame(n, 1 if n != 1 else 2))
    assert set(first.tunnels.splits) == {(a, b) for a in dpids for b in dpids if a != b}
    sim = replayed(net)
    assert_record_is_true(sim, first.tunnels)
    _delivered_between(sim, dpids, dpids)
    os.remove(os.path.expanduser(first.settings.state_file))
    return dpids, sim


def _delivered_between(sim, dpids, among):
    """Every host behind a switch in `among` reaches every other such host, on every bucket."""
    for a, src in enumerate(dpids, start=1):
        for b, dst in enumerate(dpids, start=1):
            if a != b and src in among and dst in among:
                outcomes = sim.walk(src, HOST_PORT, mac(b))
                assert outcomes and {(o.kind, o.dpid, o.port, o.vid) for o in outcomes} == {
                    ("host", dst, HOST_PORT, None)}, (a, b, outcomes)


def _apply_sent(sim, net):
    for dpid, msg in net.log:
        if dpid != "barrier" and is_table_mod(msg):
            sim.apply([(dpid, msg)])     # strict: a group added twice fails


def test_ovs_default_dpids_are_routed_and_a_restarted_controller_adopts_their_groups(spawned, clock,
                                                                                       wsgi):
    """Such dpids name their select groups by a hash (controller.group_ids). A controller
    restarted without a state file reads the first switch back before the others connect: its
    groups towards them are left as they are, and adopted when the switch is read again once
    they have connected, so the next plan modifies them (a strict replay refuses a group added
    twice) and every pair is delivered throughout."""
    second, again, dpids, sim = _restarted_and_adopted(wsgi, clock)
    _apply_sent(sim, again)
    assert set(second.tunnels.splits) == {(a, b) for a in dpids for b in dpids if a != b}
    assert_record_is_true(sim, second.tunnels)
    _delivered_between(sim, dpids, dpids)


def _restarted_and_adopted(wsgi, clock):
    """The ring of :func:`_ovs_ring_installed` under a controller restarted without a state
    file, its switches connecting one after another and read back until every group is named
    and the hold is over. Returns the controller, its network, the dpids and the tables."""
    dpids, sim = _ovs_ring_installed(wsgi, clock)
    second = _controller(wsgi, clock)
    assert second.saved is None
    again = FakeNetwork(second, n=3, dpid_base=OVS_BASE)
    _record_barriers(second, again)
    again.connect(dpids[0], *sim.read_back(dpids[0]))
    assert second.tunnels.unnamed.ids() == [(dpids[0], group_ids.select_group_id(d)) for d in dpids[1:]]
    assert "switches named by select groups" in second.resync_reason()  # decisions wait for them
    for dpid in dpids[1:]:
        again.connect(dpid, *sim.read_back(dpid))
    clock.now += 0.5  # the connections pause
    second.check_resync()
    asked = [m for m in again.datapaths[dpids[0]].sent if isinstance(m, parser.OFPGroupDescStatsRequest)]
    assert len(asked) == 2  # at its connection, and once for both egresses that connected since
    assert sorted(second.readback.pending) == dpids[:2]  # s2 waited for s3 too
    for dpid in dpids[:2]:
        again.answer_read_back(dpid, *sim.read_back(dpid))
    assert not second.tunnels.unnamed
    for src, dst in again.ring_links():
        again.link_add(src, dst)
    while second.pending_reasons or second.resync_reason():
        clock.now += 0.5
        second.check_resync()
        second.run_pending_reroutes()
    return second, again, dpids, sim


def test_a_switch_that_keeps_reconnecting_does_not_hold_the_read_again_back(spawned, clock, wsgi):
    """s1 waits for s2 and s3; s2 connects, then s3 reconnects every 0.3 s: s1 is still read
    again within REREAD_LATEST_S (decisions wait while a read-back is due)."""
    from controller.app import REREAD_LATEST_S

    dpids, sim = _ovs_ring_installed(wsgi, clock)
    second = _controller(wsgi, clock)
    again = FakeNetwork(second, n=3, dpid_base=OVS_BASE)
    again.connect(dpids[0], *sim.read_back(dpids[0]))
    again.connect(dpids[1], *sim.read_back(dpids[1]))
    started = clock.now

    def dumps_of_s1():
        return sum(isinstance(m, parser.OFPGroupDescStatsRequest) for m in again.datapaths[dpids[0]].sent)

    while dumps_of_s1() == 1 and clock.now - started <= REREAD_LATEST_S + 0.5:
        if dpids[2] in again.datapaths and dpids[2] in second.datapaths:
            again.disconnect(dpids[2])
        again.connect(dpids[2], *sim.read_back(dpids[2]))
        clock.now += 0.3
        second.check_resync()
    assert dumps_of_s1() == 2 and clock.now - started <= REREAD_LATEST_S + 0.3


def _select_group_deletes(net):
    return sorted((dpid, m.group_id) for dpid, m in net.log if isinstance(m, parser.OFPGroupMod)
                  and m.command == ofp.OFPGC_DELETE and m.type == ofp.OFPGT_SELECT)


def _a_late_switch_after_the_hold(wsgi, clock):
    """A controller restarted without a state file: only s1 connects before the start-up hold
    times out (its groups towards s2 and s3 go then); s2 connects later, holding a group
    towards s3, which has not connected since the restart, so nothing names it."""
    dpids, sim = _ovs_ring_installed(wsgi, clock)
    second = _controller(wsgi, clock)
    again = FakeNetwork(second, n=3, dpid_base=OVS_BASE)
    _record_barriers(second, again)
    again.connect(dpids[0], *sim.read_back(dpids[0]))
    clock.now += second.settings.resync_timeout + 1
    second.check_resync()
    assert second.hold.ended_at is not None
    _apply_sent(sim, again)
    again.log.clear()
    again.connect(dpids[1], *sim.read_back(dpids[1]))
    towards_s3 = group_ids.select_group_id(dpids[2])
    assert second.tunnels.unnamed.ids() == [(dpids[1], towards_s3)]
    assert second.tunnels.unnamed.labels() <= second.tunnels.held_labels()  # no new tunnel takes them
    return second, again, dpids, sim, towards_s3


def test_after_the_hold_a_group_towards_a_switch_not_connected_yet_stays_until_it_connects(spawned, clock,
                                                                                          wsgi):
    """s2's hosts keep reaching s3's through the data plane while s3 may still come
    (resync_timeout); when it does, s2 is read again and the group adopted, not deleted."""
    second, again, dpids, sim, towards_s3 = _a_late_switch_after_the_hold(wsgi, clock)
    clock.now += second.settings.resync_timeout - 1
    second.check_resync()
    assert (dpids[1], towards_s3) not in _select_group_deletes(again)
    _apply_sent(sim, again)
    again.log.clear()
    assert {(o.kind, o.dpid) for o in sim.walk(dpids[1], HOST_PORT, mac(3))} == {("host", dpids[2])}
    again.connect(dpids[2], answer=False)
    for src, dst in again.ring_links():  # LLDP
        again.link_add(src, dst)
    again.answer_read_back(dpids[2], *sim.read_back(dpids[2]))
    clock.now += 0.5
    second.check_resync()
    again.answer_read_back(dpids[1], *sim.read_back(dpids[1]))  # read again as s3 connected
    assert not second.tunnels.unnamed
    clock.now += second.settings.resync_timeout + 1
    second.check_resync()
    while second.pending_reasons:
        second.run_pending_reroutes()
    assert (dpids[1], towards_s3) not in _select_group_deletes(again)
    _apply_sent(sim, again)
    assert set(second.tunnels.splits) == {(a, b) for a in dpids for b in dpids if a != b}
    assert_record_is_true(sim, second.tunnels)
    _delivered_between(sim, dpids, dpids)


def test_after_the_hold_a_group_towards_a_switch_that_stays_away_goes_after_resync_timeout(spawned, clock,
                                                                                          wsgi):
    """Nothing names it then: it goes (and the rules sending to it with it), as at the end of
    the hold."""
    second, again, dpids, sim, towards_s3 = _a_late_switch_after_the_hold(wsgi, clock)
    clock.now += second.settings.resync_timeout + 0.5
    second.check_resync()
    assert (dpids[1], towards_s3) in _select_group_deletes(again)
    assert not second.tunnels.unnamed
    _apply_sent(sim, again)
    assert towards_s3 not in sim.switch(dpids[1]).groups
    assert [o.kind for o in sim.walk(dpids[1], HOST_PORT, mac(3))] == ["controller"]


def test_groups_towards_a_switch_that_never_comes_back_go_when_the_start_up_hold_ends(spawned, clock,
                                                                                      wsgi):
    """Nothing names them: once the hold is over they are deleted (with the classification
    rules sending to them), and the pairs between the switches that did come back keep
    forwarding."""
    dpids, sim = _ovs_ring_installed(wsgi, clock)
    gone = group_ids.select_group_id(dpids[2])
    second = _controller(wsgi, clock)
    again = FakeNetwork(second, n=3, dpid_base=OVS_BASE)
    _record_barriers(second, again)
    for dpid in dpids[:2]:
        again.connect(dpid, *sim.read_back(dpid))
    clock.now += 0.5
    second.check_resync()
    again.answer_read_back(dpids[0], *sim.read_back(dpids[0]))   # read again as s2 connected
    assert second.tunnels.unnamed.ids() == [(dpids[0], gone), (dpids[1], gone)]
    again.link_add((dpids[0], NEXT_PORT), (dpids[1], PREV_PORT))
    again.link_add((dpids[1], PREV_PORT), (dpids[0], NEXT_PORT))
    clock.now += second.settings.resync_timeout + 1
    second.check_resync()
    while second.pending_reasons:
        second.run_pending_reroutes()
    assert _select_group_deletes(again) == [(dpids[0], gone), (dpids[1], gone)]
    _apply_sent(sim, again)
    for dpid in dpids[:2]:
        assert gone not in sim.switch(dpid).groups
        # host 3's frames no longer enter a tunnel towards s3: they miss to the controller
        assert [o.kind for o in sim.walk(dpid, HOST_PORT, mac(3))] == ["controller"]
    _delivered_between(sim, dpids, dpids[:2])
    assert not second.tunnels.unnamed
