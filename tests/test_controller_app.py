"""App tier: QRouteController driven by real Ryu event objects on fake datapaths.

Every message the app sends is serialised by `tests.fakes.FakeDatapath`; the assertions read
the serialised OpenFlow (parsed back where Ryu can parse the message type). The topology is a
ring of five switches, host i on switch i port 1: between s1 and s3 the short way is 1-2-3 and
the long way 1-5-4-3.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace

import eventlet
import pytest
from ryu.lib.packet import arp, ethernet, packet
from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

import controller.app as app_module
from controller import ofmsgs, ryu_options
from controller.planner import hops_for_path
from controller.settings import Settings
from tests.fakes import (HOST_PORT, NEXT_PORT, PREV_PORT, FakeNetwork, arp_frame, ip, ipv4_frame,
                         is_add, is_delete, mac, output_ports, reparse, switch_tables)

# the fixtures below replace these; a test that needs the real ones takes them from here
REAL_SPAWN = app_module.hub.spawn
REAL_AWAIT_BARRIERS = app_module.QRouteController.await_barriers


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
    app = app_module.QRouteController(wsgi=wsgi)
    app.clock = clock.monotonic
    return app


@pytest.fixture
def net(app):
    network = FakeNetwork(app, n=5)
    # Barrier round trips need Ryu's ofctl service; record where the app would wait instead.
    app.await_barriers = lambda dpids, timeout_s=1.0: network.log.append(
        ("barrier", frozenset(dpids)))
    network.start()
    return network


def learn(net, n):
    """Host n sends an IPv4 packet on its switch's host port."""
    other = 1 if n != 1 else 2
    net.packet_in(n, HOST_PORT, ipv4_frame(n, other))


def path_rules(net):
    """{dpid: [(src, dst, out_port), ...]} of the path rules added, in sending order."""
    rules = {}
    for dpid, msg in net.log:
        if is_add(msg) and msg.priority == ofmsgs.PRIORITY_PATH:
            rules.setdefault(dpid, []).append(
                (msg.match["eth_src"], msg.match["eth_dst"], output_ports(msg)[0]))
    return rules


def tracked_tables(app):
    """{dpid: {(src, dst): out_port}} as the app believes it installed them."""
    tables = {}
    for pair, hops in app.routes.hops.items():
        for dpid, out_port in hops:
            tables.setdefault(dpid, {})[pair] = out_port
    return tables


def packet_outs(net):
    return [(dpid, msg) for dpid, msg in net.log if isinstance(msg, parser.OFPPacketOut)]


# --- construction ---------------------------------------------------------------------------
def test_app_builds_outside_ryu_manager_with_default_settings(app, spawned, wsgi):
    assert app.settings == Settings()
    assert [args[1] for args in spawned if len(args) > 1] == ["statistics poll", "re-optimisation"]
    assert (app._rerouter,) in spawned
    assert len(wsgi.registered) == 1 and wsgi.registered[0][1]["qroute_app"] is app


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
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)


def test_load_settings_reads_the_config_files(tmp_path, monkeypatch):
    good = tmp_path / "good.conf"
    good.write_text("[qroute]\nstats_interval = 0.5\nrest_api = off\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(good)]))
    settings = ryu_options.load_settings()
    assert settings.stats_interval == 0.5 and settings.rest_api is False


# --- switch connect ---------------------------------------------------------------------------
def test_connect_deletes_stale_app_rules_then_installs_base_rules(app):
    net = FakeNetwork(app, n=1)
    dp = net.connect(1)
    first = reparse(dp, dp.sent[0])
    assert first.command == ofp.OFPFC_DELETE and first.table_id == ofp.OFPTT_ALL
    assert first.cookie_mask == ofmsgs.APP_COOKIE_MASK
    assert first.cookie >> 32 == ofmsgs.APP_COOKIE
    assert (first.out_port, first.out_group) == (ofp.OFPP_ANY, ofp.OFPG_ANY)

    adds = [reparse(dp, m) for m in dp.sent if is_add(m)]
    by_priority = {m.priority: m for m in adds}
    miss = by_priority[ofmsgs.PRIORITY_MISS]
    assert list(miss.match.items()) == []
    assert output_ports(miss) == [ofp.OFPP_CONTROLLER]
    assert miss.instructions[0].actions[0].max_len == ofp.OFPCML_NO_BUFFER
    arp_rule = by_priority[ofmsgs.PRIORITY_ARP]
    assert arp_rule.match["eth_type"] == ether.ETH_TYPE_ARP
    assert output_ports(arp_rule) == [ofp.OFPP_CONTROLLER]
    assert all(m.cookie >> 32 == ofmsgs.APP_COOKIE for m in adds)
    assert isinstance(dp.sent[-1], parser.OFPPortDescStatsRequest)
    assert app.datapaths == {1: dp} and app.state.switches == {1}
    assert app.state.ports[1] == {1, 2, 3}  # OFPP_LOCAL is not an edge port


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
    assert path_rules(net)  # both ends known: paths installed


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


# --- path installation ------------------------------------------------------------------------
def test_two_hosts_get_shortest_path_rules_with_the_app_cookie(net, app):
    learn(net, 1)
    assert path_rules(net) == {}  # a lone host has no pairs
    learn(net, 3)
    rules = {dpid: set(r) for dpid, r in path_rules(net).items()}
    assert rules == {
        1: {(mac(1), mac(3), NEXT_PORT), (mac(3), mac(1), HOST_PORT)},
        2: {(mac(1), mac(3), NEXT_PORT), (mac(3), mac(1), PREV_PORT)},
        3: {(mac(1), mac(3), HOST_PORT), (mac(3), mac(1), PREV_PORT)},
    }
    assert app.routes.paths == {(mac(1), mac(3)): (1, 2, 3), (mac(3), mac(1)): (3, 2, 1)}
    for dpid, msg in net.log:
        if is_add(msg):
            wire = reparse(net.datapaths[dpid], msg)
            assert wire.cookie >> 32 == ofmsgs.APP_COOKIE
            assert wire.cookie & ofmsgs.EPOCH_MASK == app.routes.epoch
            assert wire.priority == ofmsgs.PRIORITY_PATH
            assert wire.match["eth_src"] in (mac(1), mac(3))
            # flagged as ingress exactly on the source host's switch
            ingress = dpid == app.state.hosts[wire.match["eth_src"]].dpid
            assert bool(wire.cookie & ofmsgs.INGRESS_FLAG) == ingress
    # the packet that taught s3's host is delivered to its destination
    assert any(d == 1 and o.actions[0].port == HOST_PORT for d, o in packet_outs(net))


def test_each_flow_is_installed_egress_first(net):
    learn(net, 1)
    learn(net, 3)
    order = [dpid for dpid, msg in net.log
             if is_add(msg) and msg.match["eth_src"] == mac(1)]
    assert order == [3, 2, 1]
    order = [dpid for dpid, msg in net.log
             if is_add(msg) and msg.match["eth_src"] == mac(3)]
    assert order == [1, 2, 3]


def _assert_make_before_break(net):
    kinds = [("add" if is_add(m) else "delete") for _, m in net.log if is_add(m) or is_delete(m)]
    assert "delete" in kinds and "add" in kinds
    assert kinds == sorted(kinds), f"a delete was sent before an add: {kinds}"


def _deleted_on(net):
    deleted = {}
    for dpid, msg in net.log:
        if is_delete(msg):
            wire = reparse(net.datapaths[dpid], msg)
            assert (wire.out_port, wire.out_group) == (ofp.OFPP_ANY, ofp.OFPG_ANY)
            assert wire.cookie_mask == ofmsgs.APP_COOKIE_MASK
            assert wire.cookie >> 32 == ofmsgs.APP_COOKIE
            deleted.setdefault(dpid, set()).add((wire.match["eth_src"], wire.match["eth_dst"]))
    return deleted


def test_port_down_moves_the_flow_to_the_surviving_path(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    net.port_status(2, NEXT_PORT, ofp.OFPPR_MODIFY, state=ofp.OFPPS_LINK_DOWN)
    assert (2, 3) not in app.state.links and (3, 2) not in app.state.links
    assert app.routes.paths[(mac(1), mac(3))] == (1, 5, 4, 3)
    assert app.routes.paths[(mac(3), mac(1))] == (3, 4, 5, 1)
    assert path_rules(net) == {
        4: [(mac(1), mac(3), PREV_PORT), (mac(3), mac(1), NEXT_PORT)],
        5: [(mac(1), mac(3), PREV_PORT), (mac(3), mac(1), NEXT_PORT)],
        1: [(mac(1), mac(3), PREV_PORT)],   # s1 keeps its host rule for 3->1
        3: [(mac(3), mac(1), NEXT_PORT)],   # s3 keeps its host rule for 1->3
    }
    assert _deleted_on(net) == {2: {(mac(1), mac(3)), (mac(3), mac(1))}}
    _assert_make_before_break(net)
    order = [d for d, m in net.log if is_add(m) and m.match["eth_src"] == mac(1)]
    assert order == [4, 5, 1]  # egress side first; s3 keeps its unchanged last hop
    assert app.status.reroutes == 2


def test_path_change_waits_for_downstream_barriers_before_switching_ingress(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    net.port_status(2, NEXT_PORT, ofp.OFPPR_MODIFY, state=ofp.OFPPS_LINK_DOWN)
    steps = []
    for dpid, msg in net.log:
        if dpid == "barrier":
            steps.append(("barrier", msg))
        elif is_add(msg) and msg.match["eth_src"] == mac(1):
            steps.append(("add", dpid))
        elif is_delete(msg) and msg.match["eth_src"] == mac(1):
            steps.append(("delete", dpid))
    assert steps == [("add", 4), ("add", 5), ("barrier", frozenset({4, 5})),
                     ("add", 1), ("barrier", frozenset({1, 3})), ("delete", 2)]


def test_port_admin_down_and_port_delete_also_remove_the_link(net, app):
    net.port_status(1, NEXT_PORT, ofp.OFPPR_MODIFY, config=ofp.OFPPC_PORT_DOWN)
    assert (1, 2) not in app.state.links and (2, 1) not in app.state.links
    net.port_status(4, PREV_PORT, ofp.OFPPR_DELETE)
    assert (4, 3) not in app.state.links and (3, 4) not in app.state.links
    assert PREV_PORT not in app.state.ports[4]


def test_link_add_restores_the_shorter_path(net, app):
    learn(net, 1)
    learn(net, 3)
    for src, dst in net.link_between(2, 3):
        net.link_delete(src, dst)
    assert app.routes.paths[(mac(1), mac(3))] == (1, 5, 4, 3)
    (forward, backward) = net.link_between(2, 3)   # (2->3), (3->2)
    net.clear()
    net.link_add(*forward)      # 1->3 can take the short way again; 3->1 cannot yet
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)
    assert app.routes.paths[(mac(3), mac(1))] == (3, 4, 5, 1)
    assert path_rules(net) == {2: [(mac(1), mac(3), NEXT_PORT)],
                               1: [(mac(1), mac(3), NEXT_PORT)]}
    assert _deleted_on(net) == {4: {(mac(1), mac(3))}, 5: {(mac(1), mac(3))}}
    _assert_make_before_break(net)
    net.clear()
    net.link_add(*backward)
    assert app.routes.paths[(mac(3), mac(1))] == (3, 2, 1)
    assert path_rules(net) == {2: [(mac(3), mac(1), PREV_PORT)],
                               3: [(mac(3), mac(1), PREV_PORT)]}
    assert _deleted_on(net) == {4: {(mac(3), mac(1))}, 5: {(mac(3), mac(1))}}
    _assert_make_before_break(net)


def test_a_link_event_off_the_path_sends_nothing(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    for src, dst in net.link_between(4, 5):
        net.link_delete(src, dst)
    assert [m for _, m in net.log if is_add(m) or is_delete(m)] == []
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)


def test_unreachable_pair_has_its_rules_deleted(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    for a, b in ((4, 5), (2, 3)):  # the first cut is off the path
        for src, dst in net.link_between(a, b):
            net.link_delete(src, dst)
    assert app.routes.paths == {} and app.routes.hops == {}
    assert set(_deleted_on(net)) == {1, 2, 3}


def test_switch_leaving_reroutes_around_it(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    net.disconnect(2)
    assert 2 not in app.datapaths and 2 not in app.state.switches
    assert app.routes.paths[(mac(1), mac(3))] == (1, 5, 4, 3)
    assert all(dpid != 2 for dpid, _ in net.log)  # nothing is sent to a dead switch


def test_reroute_without_changes_sends_nothing(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    assert app.reroute("periodic") == 0
    assert net.log == []


# --- statistics -------------------------------------------------------------------------------
def test_poll_asks_every_switch_for_ports_and_host_switches_for_app_flow_stats(net, app):
    learn(net, 1)
    learn(net, 3)
    net.clear()
    app._poll_stats()
    port_requests = [(d, m) for d, m in net.log if isinstance(m, parser.OFPPortStatsRequest)]
    flow_requests = [(d, m) for d, m in net.log if isinstance(m, parser.OFPFlowStatsRequest)]
    assert sorted(d for d, _ in port_requests) == [1, 2, 3, 4, 5]
    assert sorted(d for d, _ in flow_requests) == [1, 3]  # where hosts attach: the ingress switches
    assert all(m.port_no == ofp.OFPP_ANY for _, m in port_requests)
    for _, m in flow_requests:  # only qroute's own rules, and of those the ingress ones
        assert m.cookie_mask == ofmsgs.APP_COOKIE_MASK | ofmsgs.INGRESS_FLAG
        assert m.cookie & m.cookie_mask == ofmsgs.cookie(0, ingress=True)


def test_flow_stats_at_the_ingress_switch_become_per_flow_rates(net, app):
    learn(net, 1)
    learn(net, 3)
    pair, back = (mac(1), mac(3)), (mac(3), mac(1))
    net.flow_stats(1, {pair: 1_000, back: 0}, age_s=10.0)
    # 2.5 MB over 2 s of the rule's life = 10 Mbit/s, counted where the flow enters (s1),
    # however late the reply arrives
    net.flow_stats(1, {pair: 1_000 + 2_500_000, back: 7_000_000}, age_s=12.0)
    net.flow_stats(2, {pair: 9_000_000, back: 9_000_000}, age_s=12.0)  # transit switch: not counted
    assert app.flow_rates.bps == {pair: pytest.approx(10e6)}
    net.flow_stats(1, {pair: 10}, age_s=1.0)  # rule replaced (younger, fresh counter): no rate
    assert app.flow_rates.bps[pair] == pytest.approx(10e6)
    net.flow_stats(1, {pair: 10 + 125_000}, age_s=2.0)  # measured again from the new rule
    assert app.flow_rates.bps[pair] == pytest.approx(1e6)
    assert {"src": mac(1), "dst": mac(3), "bps": pytest.approx(1e6)} in app.describe()["flow_rates_bps"]


def test_a_host_moving_to_another_switch_does_not_mix_counters(net, app):
    learn(net, 1)
    learn(net, 3)
    pair = (mac(1), mac(3))
    net.flow_stats(1, {pair: 5_000_000}, age_s=10.0)
    net.packet_in(4, HOST_PORT, ipv4_frame(1, 3))  # host 1 now sends from s4
    assert app.state.hosts[mac(1)].dpid == 4
    net.flow_stats(4, {pair: 6_000_000}, age_s=11.0)  # s4's rule: its first sample, no rate yet
    assert pair not in app.flow_rates.bps


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
    conf = tmp_path / "q.conf"
    conf.write_text("[qroute]\nrouting_weight = utilisation\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    app = app_module.QRouteController(wsgi=wsgi)
    app.clock = clock.monotonic
    net = FakeNetwork(app, n=4)  # s1 to s3: 1-2-3 or 1-4-3, equal hops
    net.start()
    net.port_stats(1, {NEXT_PORT: 0, PREV_PORT: 0})
    clock.now += 1.0
    net.port_stats(1, {NEXT_PORT: 0, PREV_PORT: 0, loaded_port: 1_250_000})  # 10 Mbit/s
    learn(net, 1)
    learn(net, 3)
    assert app.routes.paths[(mac(1), mac(3))] == expected


def _app_with(conf_text, tmp_path, monkeypatch, wsgi):
    conf = tmp_path / "q.conf"
    conf.write_text(conf_text)
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    return app_module.QRouteController(wsgi=wsgi)


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
def test_learned_policy_routes_every_pair_on_a_candidate_path(kind, spawned, wsgi, tmp_path,
                                                              monkeypatch):
    app = _app_with(f"[qroute]\npolicy = {kind}\n", tmp_path, monkeypatch, wsgi)
    assert app.policy.kind == kind and app.status.policy_problem == ""
    assert app.describe()["policy"].startswith(f"{kind} router, k=3")
    net = FakeNetwork(app, n=5)
    net.start()
    for n in range(1, 6):
        learn(net, n)
    assert len(app.routes.paths) == 20 and app.describe()["last_decision_error"] == ""
    # what is installed is the learned policy's own decision: asked afresh, with nothing
    # installed to keep and no margin for keeping it, it picks the same paths
    monkeypatch.setattr(app.policy, "keep_margin", 0.0)
    own = app.policy.decide(app.state.graph(), app.state.host_pairs(), {}, {})
    assert own == app.routes.paths
    for (src, dst), path in app.routes.paths.items():
        assert path[0] == app.state.hosts[src].dpid and path[-1] == app.state.hosts[dst].dpid
        assert len(set(path)) == len(path)  # loop-free: the ring's short or long way round


def test_milp_policy_routes_every_pair(spawned, wsgi, tmp_path, monkeypatch):
    app = _app_with("[qroute]\npolicy = milp\n", tmp_path, monkeypatch, wsgi)
    assert app.describe()["policy_name"] == "milp" and app.status.policy_problem == ""
    net = FakeNetwork(app, n=5)
    net.start()
    for n in range(1, 6):
        learn(net, n)
    assert len(app.routes.paths) == 20 and app.describe()["last_decision_error"] == ""
    for (src, dst), path in app.routes.paths.items():
        assert path[0] == app.state.hosts[src].dpid and path[-1] == app.state.hosts[dst].dpid


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
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)


def test_a_failing_learned_decision_keeps_intact_paths_and_routes_the_rest(spawned, wsgi, tmp_path,
                                                                           monkeypatch, caplog):
    app = _app_with("[qroute]\npolicy = qnn\n", tmp_path, monkeypatch, wsgi)
    net = FakeNetwork(app, n=5)
    net.start()
    learn(net, 1)
    learn(net, 3)
    app.routes.paths[(mac(1), mac(3))] = (1, 5, 4, 3)  # as if the QNN had chosen the long way
    app.routes.hops[(mac(1), mac(3))] = hops_for_path((1, 5, 4, 3), app.state.hosts[mac(3)],
                                                               app.state.links)

    def broken(*args, **kwargs):
        raise RuntimeError("inference failed")

    monkeypatch.setattr(app.policy, "decide", broken)
    with caplog.at_level(logging.ERROR):
        learn(net, 2)  # a new host: a decision is needed, and it fails
    assert app.routes.paths[(mac(1), mac(3))] == (1, 5, 4, 3)  # intact: not moved
    assert app.routes.paths[(mac(1), mac(2))] == (1, 2) and app.routes.paths[(mac(2), mac(3))] == (2, 3)
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
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)


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
    assert len(app.routes.paths) == 4 * 3
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
    with caplog.at_level(logging.ERROR), pytest.raises(_Stop):
        app._rerouter()
    failures = [r for r in caplog.records if "rerouting failed" in r.getMessage()]
    assert len(failures) == 3 and app.pending_reasons == []


def test_a_link_failing_during_a_decision_does_not_cost_intact_paths_their_rules(net, app, monkeypatch):
    learn(net, 1)
    learn(net, 3)
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)
    decide = app.policy.decide

    def decided_before_the_failure(graph, flows, current, *rest):
        # what a decision started earlier returns: the long way round for 1->3, over 4-5 ...
        decided = dict(decide(graph, flows, current, *rest))
        decided[(mac(1), mac(3))] = (1, 5, 4, 3)
        # ... whose link 4-5 fails while it runs
        app.state.remove_link(4, 5)
        app.state.remove_link(5, 4)
        return decided

    monkeypatch.setattr(app.policy, "decide", decided_before_the_failure)
    net.clear()
    app.reroute("periodic")
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)
    assert _deleted_on(net) == {}


def test_a_host_moving_during_a_decision_gets_no_rules_towards_its_old_switch(net, app, monkeypatch):
    learn(net, 1)
    learn(net, 3)
    decide = app.policy.decide

    def decided_before_the_move(graph, flows, current, *rest):
        decided = decide(graph, flows, current, *rest)
        # host 3 shows up on switch 4 (port 1 there) while the decision for switch 3 runs
        app.state.learn_host(mac(3), 4, HOST_PORT)
        return decided

    monkeypatch.setattr(app.policy, "decide", decided_before_the_move)
    net.clear()
    app.reroute("periodic")
    assert (mac(1), mac(3)) not in app.routes.paths and (mac(3), mac(1)) not in app.routes.paths
    assert all(dpid != 3 or dst != mac(3) for dpid, rules in path_rules(net).items()
               for _, dst, _ in rules)
    monkeypatch.setattr(app.policy, "decide", decide)
    app.reroute("host moved")  # the decision the move asked for
    assert app.routes.paths[(mac(1), mac(3))][-1] == 4 and app.routes.paths[(mac(3), mac(1))][0] == 4


def test_a_switch_reconnecting_while_the_policy_runs_gets_its_rules_from_that_decision(net, app, monkeypatch):
    learn(net, 1)
    learn(net, 3)
    decide = app.policy.decide

    def decided_while_s2_reconnects(*args):
        net._handle = lambda handler, event: handler(event)  # the rerouter is busy here
        net.connect(2)  # deletes every app rule on s2
        del net._handle
        return decide(*args)

    monkeypatch.setattr(app.policy, "decide", decided_while_s2_reconnects)
    net.clear()
    assert app.reroute("periodic") == 0 and app.status.flows_moved == 0  # rules restored, no path moved
    assert set(path_rules(net)[2]) == {(mac(1), mac(3), NEXT_PORT), (mac(3), mac(1), PREV_PORT)}
    # so the decision the reconnection asked for has nothing left to install
    monkeypatch.setattr(app.policy, "decide", decide)
    epoch = app.routes.epoch
    assert app.pending_reasons == ["switch 2 reconnected"]
    app.run_pending_reroutes()
    assert app.routes.epoch == epoch


@pytest.mark.parametrize("host_2_moves", [False, True])
def test_a_switch_reconnecting_during_the_barrier_waits_holds_exactly_the_tracked_rules(
        net, app, host_2_moves):
    """Whatever a decision sent a switch before it reconnected is gone, what it sent after
    reached the new connection and stands; the follow-up decision (run by the fake loop)
    leaves every switch holding exactly what the app tracks, even when a host moved meanwhile."""
    learn(net, 1)
    learn(net, 3)
    reconnected = []

    def barrier_wait_during_which_s2_reconnects(dpids, timeout_s=1.0):
        if not reconnected:
            reconnected.append(2)
            net._handle = lambda handler, event: handler(event)  # the rerouter is busy here
            net.connect(2)  # wipes s2; the decision's ingress rules there come after this
            if host_2_moves:
                net.packet_in(4, HOST_PORT, ipv4_frame(2, 1))  # host 2 now sends from s4
            del net._handle

    app.await_barriers = barrier_wait_during_which_s2_reconnects
    learn(net, 2)  # a new host: one decision, whose barrier wait sees s2 reconnect
    assert reconnected == [2] and app.state.hosts[mac(2)].dpid == (4 if host_2_moves else 2)
    assert app.pending_reasons == []
    assert any(dpid == 2 for hops in app.routes.hops.values() for dpid, _ in hops)
    assert switch_tables(net.log) == tracked_tables(app)


def test_a_flow_whose_ingress_switch_was_wiped_gets_a_flagged_ingress_rule_after_its_host_moves(net, app):
    """1->3 runs 1-2-3; s1 reconnects (its rules wiped) and host 1 shows up on s2 before the
    next decision: the hops left (s2, s3) are the new path's, and s2's rule must be rewritten
    as the ingress rule (cookie flag) for the flow's rate to be measured."""
    learn(net, 1)
    learn(net, 3)
    net.clear()
    net._handle = lambda handler, event: handler(event)  # both before the next decision
    net.connect(1)
    net.packet_in(2, HOST_PORT, ipv4_frame(1, 3))
    del net._handle
    app.run_pending_reroutes()
    assert app.routes.paths[(mac(1), mac(3))] == (2, 3)
    flagged = [d for d, m in net.log if is_add(m) and m.priority == ofmsgs.PRIORITY_PATH
               and (m.match["eth_src"], m.match["eth_dst"]) == (mac(1), mac(3))
               and m.cookie & ofmsgs.INGRESS_FLAG]
    assert flagged == [2] and app.routes.unflagged == set()


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
        REAL_AWAIT_BARRIERS(app, {1, 2, 3, 4, 5, 99}, timeout_s=0.2)  # 99: not connected
    assert max(most) == 5 and in_flight == set()
    silent = [r.getMessage() for r in caplog.records if "no barrier reply" in r.getMessage()]
    assert len(silent) == 1 and "from 0000000000000003 (<Timeout" in silent[0]


# --- REST view --------------------------------------------------------------------------------
def test_describe_reports_hosts_paths_and_settings(net, app):
    learn(net, 1)
    learn(net, 3)
    view = app.describe()
    assert view["switches"] == [1, 2, 3, 4, 5]
    assert [h["mac"] for h in view["hosts"]] == [mac(1), mac(3)]
    assert {"src": mac(1), "dst": mac(3), "path": [1, 2, 3]} in view["paths"]
    assert view["settings"]["routing_weight"] == "hops"
    assert view["epoch"] == app.routes.epoch >= 1
    assert (view["policy_name"], view["policy"], view["policy_problem"]) == \
        ("shortest-path", "shortest-path", "")


# --- reconnects -------------------------------------------------------------------------------
def test_switch_reconnecting_before_its_old_connection_dies_keeps_its_rules(net, app):
    """Ryu's dpset notes a switch may reconnect before the old connection is seen to drop.
    The new connection wipes qroute's rules (switch_features); they must come back, and the
    old connection's late DEAD event must not take the live switch away."""
    learn(net, 1)
    learn(net, 3)
    old = net.datapaths[2]
    net.clear()
    new = net.connect(2)
    assert reparse(new, new.sent[0]).command == ofp.OFPFC_DELETE  # rules wiped on connect
    assert set(path_rules(net).get(2, [])) == {(mac(1), mac(3), NEXT_PORT),
                                               (mac(3), mac(1), PREV_PORT)}
    assert all(msg.datapath is new for msg in new.sent)
    net.clear()
    net.state_change(old, app_module.DEAD_DISPATCHER)
    assert app.datapaths[2] is new and 2 in app.state.switches
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)
    assert [m for _, m in net.log if is_add(m) or is_delete(m)] == []


def test_a_reconnected_switch_forgets_only_its_own_rules_so_moving_a_flow_deletes_the_rest(
        net, app, monkeypatch):
    decide = app.policy.decide

    def the_long_way(graph, flows, current, *rest):
        return {**decide(graph, flows, current, *rest), (mac(1), mac(3)): (1, 5, 4, 3)}

    monkeypatch.setattr(app.policy, "decide", the_long_way)
    learn(net, 1)
    learn(net, 3)
    assert app.routes.paths[(mac(1), mac(3))] == (1, 5, 4, 3)
    monkeypatch.setattr(app.policy, "decide", decide)
    net.clear()
    net.connect(5)  # wipes s5; the decision it asks for takes 1->3 the short way
    assert app.routes.paths[(mac(1), mac(3))] == (1, 2, 3)
    # the old path's rule on s4 (not wiped, not on the new path) is deleted, not left behind
    deleted_on_s4 = [reparse(net.datapaths[4], m).match for d, m in net.log if d == 4 and is_delete(m)]
    assert [(m["eth_src"], m["eth_dst"]) for m in deleted_on_s4] == [(mac(1), mac(3))]
    assert app.status.flows_moved == 1
