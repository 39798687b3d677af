"""qroute's Ryu application: a thin shim between OpenFlow events and the pure routing code.

    ryu-manager controller/app.py [--config-file qroute.conf]

Events update a `NetworkState` (switches, links, hosts, measured link load); a routing policy
turns the state into one path per host pair, off the event loop; `planner.plan_phases` turns
the difference from what is installed into make-before-break flow-mods, which are sent here.
"""
from __future__ import annotations

import dataclasses
import random
import sys
import time
from collections.abc import Sequence

from controller.compat import harden_openflow13_parser, patch_eventlet

patch_eventlet()
harden_openflow13_parser()

import eventlet  # noqa: E402
import eventlet.wsgi  # noqa: E402
from eventlet import tpool  # noqa: E402
from oslo_config.cfg import NoSuchOptError  # noqa: E402
from ryu import cfg  # noqa: E402
from ryu.app.ofctl import api as ofctl_api  # noqa: E402  (loads ryu.app.ofctl.service)
from ryu.app.wsgi import WSGIApplication  # noqa: E402
from ryu.base import app_manager  # noqa: E402
from ryu.controller import ofp_event  # noqa: E402
from ryu.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER,  # noqa: E402
                                    MAIN_DISPATCHER, set_ev_cls)
from ryu.lib import hub  # noqa: E402
from ryu.lib.packet import arp, ethernet, ipv4, packet  # noqa: E402
from ryu.ofproto import ether  # noqa: E402
from ryu.ofproto import ofproto_v1_3  # noqa: E402
from ryu.topology import event as topo_event  # noqa: E402

from controller import ofmsgs  # noqa: E402
from controller.metrics import ControllerMetrics  # noqa: E402
from controller.arp_proxy import FloodGuard, arp_reply  # noqa: E402
from controller.planner import Plan, hops_for_path, plan_phases, strip_switches  # noqa: E402
from controller.rest import register_rest_api  # noqa: E402
from controller.settings import Settings, SettingsError, default_checkpoint, read_settings  # noqa: E402
from qnn.errors import CheckpointError  # noqa: E402
from controller.netstate import NetworkState, RateMeter  # noqa: E402
from controller.policy import ShortestPathPolicy, keep_intact_else  # noqa: E402
from topologies.catalog import link_facts  # noqa: E402

CONF = cfg.CONF
UNKNOWN_DURATION = 0xFFFFFFFF  # an OpenFlow 1.3 port-stats duration the switch does not track
# Dead-switch detection is off in Ryu by default; a config file can still override these.
CONF.set_default("echo_request_interval", 2.0)
CONF.set_default("maximum_unreplied_echo_requests", 3)


def counter_age(stat) -> float:
    """Seconds a flow-stats or port-stats entry's counters have been counting."""
    return stat.duration_sec + stat.duration_nsec * 1e-9


def _config_files() -> list[str]:
    """ryu-manager's --config-file list; empty when no command line was parsed (an app built
    outside ryu-manager, e.g. in tests), where oslo.config does not know the option yet."""
    try:
        return list(CONF.config_file or [])
    except NoSuchOptError:
        return []


def _ryu_ports() -> dict[str, int]:
    """The ports ryu-manager listens on, by option; empty when no command line was parsed
    (see _config_files)."""
    ports = {}
    for option in ("wsapi_port", "ofp_tcp_listen_port", "ofp_ssl_listen_port"):
        try:
            ports["--" + option.replace("_", "-")] = int(getattr(CONF, option))
        except (NoSuchOptError, AttributeError, TypeError, ValueError):
            pass
    return ports


def load_settings() -> Settings:
    try:
        settings = read_settings(_config_files())
        clash = [option for option, port in _ryu_ports().items() if port == settings.metrics_port]
        if settings.metrics_port and clash:
            # ryu listens with SO_REUSEPORT: both servers would bind, each taking some connections
            raise SettingsError(f"[qroute] metrics_port = {settings.metrics_port} is also ryu's "
                                f"{clash[0]}; give the metrics another port")
        return settings
    except SettingsError as error:
        print(f"qroute: invalid configuration:\n{error}", file=sys.stderr)
        raise SystemExit(2) from error


class QRouteController(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = load_settings()
        self.state = NetworkState(default_capacity_bps=self.settings.link_capacity_mbps * 1e6)
        if self.settings.topology:
            self.state.apply_link_facts(
                link_facts(self.settings.topology, self.settings.capacity_scale))
        self.port_meter = RateMeter()   # (dpid, port) -> transmit counter samples
        self.flood_guard = FloodGuard(self.settings.arp_flood_window)
        self.datapaths = {}
        self.ports: dict[int, set[int]] = {}
        self.installed = {}      # (src_mac, dst_mac) -> hops
        self.paths = {}          # (src_mac, dst_mac) -> switch path
        self.epoch = 0
        self.reroutes = 0
        self.flows_moved = 0           # flows moved to another path, since start
        self.policy_failures = 0       # learned decisions that raised, since start
        self.flow_meter = RateMeter()   # (dpid, (src_mac, dst_mac)) -> rule byte counter samples
        self.flow_rate_bps = {}  # (src_mac, dst_mac) -> measured rate at its ingress switch
        self.policy_problem = ""       # why the configured policy is not in use, if it is not
        self.metrics_problem = ""      # why the metrics endpoint is not served, if it is not
        self.last_decision_error = ""  # the last time a learned decision raised, and what
        self.policy = self._make_policy()
        self.route_lock = hub.BoundedSemaphore(1)
        self.pending_reasons: list[str] = []   # why a new decision was asked for, oldest first
        self.reroute_wanted = hub.Event()
        self.wiped_switches: set[int] = set()  # reconnected (rules deleted) since the decision began
        # flows whose ingress rule (the flagged one) was wiped: their first installed hop is not it
        self.unflagged: set = set()
        self.metrics = ControllerMetrics()
        if self.settings.metrics_port:
            self._serve_metrics(self.settings.metrics_port)
        if self.settings.rest_api:
            register_rest_api(kwargs["wsgi"], self)
        self.logger.info("qroute: started (%s)", self.settings)
        hub.spawn(self._periodic, "statistics poll", self.settings.stats_interval,
                  self._poll_stats)
        hub.spawn(self._rerouter)
        hub.spawn(self._periodic, "re-optimisation", self.settings.reoptimize_interval,
                  lambda: self.request_reroute("periodic"))

    def _serve_metrics(self, port: int) -> None:
        """Metrics are an extra: a port that cannot be bound is reported, and routing goes on."""
        try:
            # no SO_REUSEPORT (eventlet's default): a port another server holds must fail here
            sock = eventlet.listen(("127.0.0.1", port), reuse_port=False)
        except OSError as error:
            self.metrics_problem = f"metrics_port {port} cannot be served ({error}); metrics are off"
            self.logger.error("qroute: %s", self.metrics_problem)
            return
        hub.spawn(eventlet.wsgi.server, sock, self.metrics.wsgi_app(), log_output=False)

    def _make_policy(self):
        """The configured policy. A learned one whose checkpoint cannot be used is reported
        loudly and replaced by shortest paths: the network keeps forwarding."""
        weight = {"hops": None, "utilisation": "congestion", "ospf": "ospf"}
        fallback = self.fallback_policy = ShortestPathPolicy(weight=weight[self.settings.routing_weight])
        if self.settings.policy == "shortest-path":
            return fallback
        if self.settings.policy == "milp":
            from controller.demand_policies import OptimalPolicy

            # a decision must not outlast half the interval between re-optimisations
            policy = OptimalPolicy(time_limit=min(OptimalPolicy.DEFAULT_TIME_LIMIT_S,
                                                  0.5 * self.settings.reoptimize_interval))
            self.logger.info("qroute: policy %s", policy.description)
            return policy
        checkpoint = default_checkpoint(self.settings)
        try:
            from controller.demand_policies import LearnedPolicy

            policy = LearnedPolicy(checkpoint, keep_margin=self.settings.keep_margin)
        except Exception as error:  # noqa: BLE001 - whatever a checkpoint holds, keep forwarding
            expected = isinstance(error, (CheckpointError, OSError, ValueError, ImportError))
            self.policy_problem = f"policy {self.settings.policy} unavailable: " + \
                (str(error) if expected else repr(error))
            # an unexpected kind of failure also gets its traceback in the log
            log = self.logger.error if expected else self.logger.exception
            log("qroute: %s; routing by shortest path instead", self.policy_problem)
            return fallback
        if policy.kind != self.settings.policy:
            self.policy_problem = (f"checkpoint {checkpoint} holds a {policy.kind} model, "
                                   f"policy is {self.settings.policy}")
            self.logger.error("qroute: %s; routing by shortest path instead", self.policy_problem)
            return fallback
        self.logger.info("qroute: policy %s", policy.description)
        return policy

    # --- switches -------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        datapath = ev.msg.datapath
        self.send(datapath, ofmsgs.delete_all_app_rules())
        for message in ofmsgs.base_rules():
            self.send(datapath, message)
        self.send(datapath, datapath.ofproto_parser.OFPPortDescStatsRequest(datapath, 0))

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change(self, ev):
        datapath = ev.datapath
        if datapath.id is None:
            return
        if ev.state == MAIN_DISPATCHER:
            self.datapaths[datapath.id] = datapath
            self.state.add_switch(datapath.id)
            self.wiped_switches.add(datapath.id)
            self.logger.info("qroute: switch %016x connected", datapath.id)
            # switch_features deleted qroute's rules there; a switch can reconnect before its
            # old connection is seen to die, so forget what was installed on it and put it back.
            kept, lost_ingress = strip_switches(self.installed, {datapath.id})
            if kept != self.installed:
                self.unflagged = lost_ingress | (self.unflagged & kept.keys())
                self.installed = kept
                self.paths = {flow: path for flow, path in self.paths.items() if flow in kept}
                self._forget_rates_of_removed_flows()
                self.request_reroute(f"switch {datapath.id} reconnected")
        elif ev.state == DEAD_DISPATCHER and self.datapaths.get(datapath.id) is datapath:
            # (a late DEAD of a connection already replaced by a new one is ignored)
            del self.datapaths[datapath.id]
            self.state.remove_switch(datapath.id)
            self.port_meter.forget_switch(datapath.id)
            self.flow_meter.forget_switch(datapath.id)
            self.ports.pop(datapath.id, None)
            self.logger.warning("qroute: switch %016x disconnected", datapath.id)
            self.request_reroute(f"switch {datapath.id} left")

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def port_desc(self, ev):
        ofp = ev.msg.datapath.ofproto
        self.ports[ev.msg.datapath.id] = {
            p.port_no for p in ev.msg.body if p.port_no <= ofp.OFPP_MAX}

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        msg = ev.msg
        ofp = msg.datapath.ofproto
        dpid, port = msg.datapath.id, msg.desc.port_no
        ports = self.ports.setdefault(dpid, set())
        down = (msg.reason == ofp.OFPPR_DELETE
                or msg.desc.state & ofp.OFPPS_LINK_DOWN
                or msg.desc.config & ofp.OFPPC_PORT_DOWN)
        if msg.reason == ofp.OFPPR_DELETE:
            ports.discard(port)
        elif port <= ofp.OFPP_MAX:
            ports.add(port)
        if down:
            # React to the port itself: LLDP would notice the dead link only seconds later.
            removed = [link for link in self.state.links_at_port(dpid, port)
                       if self.state.remove_link(*link)]
            for link in removed:
                self.metrics.forget_link(link)
            if removed:
                self.logger.warning("qroute: link down at %s port %s: %s", dpid, port, removed)
                self.request_reroute(f"link {removed[0][0]}-{removed[0][1]} down")

    # --- links (LLDP discovery by ryu.topology.switches) ----------------------------------
    @set_ev_cls(topo_event.EventLinkAdd)
    def link_add(self, ev):
        src, dst = ev.link.src, ev.link.dst
        if self.state.add_link(src.dpid, dst.dpid, src.port_no, dst.port_no):
            self.logger.info("qroute: link up %s-%s", src.dpid, dst.dpid)
            self.request_reroute(f"link {src.dpid}-{dst.dpid} up")

    @set_ev_cls(topo_event.EventLinkDelete)
    def link_delete(self, ev):
        src, dst = ev.link.src, ev.link.dst
        if self.state.remove_link(src.dpid, dst.dpid):
            self.metrics.forget_link((src.dpid, dst.dpid))
            self.logger.warning("qroute: link lost %s-%s", src.dpid, dst.dpid)
            self.request_reroute(f"link {src.dpid}-{dst.dpid} lost")

    # --- packets --------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        in_port = msg.match["in_port"]
        pkt = packet.Packet(msg.data)
        eth = pkt.get_protocol(ethernet.ethernet)
        if eth is None or eth.ethertype == ether.ETH_TYPE_LLDP:
            return
        arp_pkt = pkt.get_protocol(arp.arp)
        if arp_pkt is not None:
            self._handle_arp(datapath, in_port, arp_pkt, msg.data)
            return
        ip_pkt = pkt.get_protocol(ipv4.ipv4)
        if ip_pkt is None:
            return  # only ARP and IPv4 hosts are routed; other frames are dropped, never flooded
        if self.state.learn_host(eth.src, datapath.id, in_port, ip_pkt.src):
            self.request_reroute(f"host {eth.src} seen")
        self._deliver(eth.dst, msg.data)

    def _handle_arp(self, datapath, in_port, arp_pkt, data):
        now = time.monotonic()
        request = arp_pkt.opcode == arp.ARP_REQUEST
        first = not request or self.flood_guard.first_time((arp_pkt.src_mac, arp_pkt.dst_ip), now)
        if not first:
            sender = self.state.hosts.get(arp_pkt.src_mac)
            if sender is None or (sender.dpid, sender.port) != (datapath.id, in_port):
                return  # a copy of a request already handled (e.g. our own flood coming back)
            # else: the host itself asking again (its reply was lost): answer, don't flood
        if self.state.learn_host(arp_pkt.src_mac, datapath.id, in_port, arp_pkt.src_ip):
            self.request_reroute(f"host {arp_pkt.src_mac} seen")
        if request:
            target = self.state.host_by_ip(arp_pkt.dst_ip)
            if target is not None:
                reply = arp_reply(target.mac, target.ip, arp_pkt.src_mac, arp_pkt.src_ip)
                self.send(datapath, ofmsgs.packet_out(reply, in_port))
            elif first:
                self._flood_to_edges(data, exclude=(datapath.id, in_port))
        elif not self._deliver(arp_pkt.dst_mac, data):
            self._flood_to_edges(data, exclude=(datapath.id, in_port))

    def _deliver(self, dst_mac, data) -> bool:
        host = self.state.hosts.get(dst_mac)
        datapath = self.datapaths.get(host.dpid) if host else None
        if datapath is None:
            return False
        self.send(datapath, ofmsgs.packet_out(data, host.port))
        return True

    def _flood_to_edges(self, data, exclude):
        for dpid, datapath in self.datapaths.items():
            for port in sorted(self.ports.get(dpid, ())):
                if (dpid, port) != exclude and not self.state.is_link_port(dpid, port):
                    self.send(datapath, ofmsgs.packet_out(data, port))

    # --- statistics -----------------------------------------------------------------------
    def _poll_stats(self):
        """Port counters (link loads) of every switch, and the counters of qroute's own rules
        (flow rates) of the switches where hosts attach: a pair's rate is read at its ingress
        switch, so the rules of a transit-only switch would be parsed for nothing."""
        ingress = {host.dpid for host in self.state.hosts.values()}
        for dpid, datapath in list(self.datapaths.items()):
            self.send(datapath, ofmsgs.port_stats_request())
            if dpid in ingress:
                self.send(datapath, ofmsgs.ingress_flow_stats_request())

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        """Per host-pair rate, read where the pair enters the network (its rule on the ingress
        switch counts each of its packets once). Timed by the rule's own age, not by when the
        reply arrived (two delayed replies handled back to back would give absurd rates). A rule
        rewritten since the last sample has another cookie (epoch): Open vSwitch restarts its age
        but may carry its byte count over, so that sample gives no rate."""
        dpid = ev.msg.datapath.id
        for stat in ev.msg.body:
            pair = (stat.match.get("eth_src"), stat.match.get("eth_dst"))
            source = self.state.hosts.get(pair[0])
            if source is None or source.dpid != dpid or pair not in self.installed:
                continue
            rate = self.flow_meter.update((dpid, pair), counter_age(stat), stat.byte_count,
                                          generation=stat.cookie)
            if rate is not None:
                self.flow_rate_bps[pair] = rate

    def _forget_rates_of_removed_flows(self):
        """Rates are only ever recorded for installed pairs, so they go stale only when the
        installed set changes: pruned there, not on every statistics reply."""
        self.flow_meter.forget(lambda key: key[1] in self.installed)
        for pair in [p for p in self.flow_rate_bps if p not in self.installed]:
            del self.flow_rate_bps[pair]

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def port_stats(self, ev):
        """Link load from each port's transmit counter, timed by the port's own age (as flow
        rates are by their rule's), so that delayed replies give no rate spikes."""
        dpid = ev.msg.datapath.id
        arrived = time.monotonic()
        for stat in ev.msg.body:
            if stat.duration_sec == UNKNOWN_DURATION:
                # timed by arrival: replies handled back to back would give rate spikes
                age, min_elapsed = arrived, 0.5 * self.settings.stats_interval
            else:
                age, min_elapsed = counter_age(stat), 0.0
            rate = self.port_meter.update((dpid, stat.port_no), age, stat.tx_bytes, min_elapsed)
            link = self.state.link_at_port(dpid, stat.port_no)
            if rate is not None and link is not None:
                self.state.load_bps[link] = rate
                self.metrics.observe_link(link, rate, self.state.utilisation(link))

    # --- routing --------------------------------------------------------------------------
    def host_pairs(self):
        hosts = self.state.hosts
        return {(a, b): (hosts[a].dpid, hosts[b].dpid)
                for a in hosts for b in hosts if a != b}

    def request_reroute(self, reason: str) -> None:
        """Ask for a new decision and return at once: event handlers (packet-in, port-status,
        link and switch events) must not wait while a decision runs, or the app's whole event
        queue stops with them. The rerouting greenthread runs one decision for every reason
        that arrived meanwhile."""
        self.pending_reasons.append(reason)
        self.reroute_wanted.set()

    def run_pending_reroutes(self) -> int:
        """One decision for all reasons asked for since the last one (hosts learned during a
        ping sweep cost one decision, not one each); returns flows moved."""
        reasons, self.pending_reasons = self.pending_reasons, []
        if not reasons:
            return 0
        unique = list(dict.fromkeys(reasons))
        summary = unique[0] if len(unique) == 1 else f"{unique[0]} and {len(unique) - 1} more"
        return self.reroute(summary, triggers=unique)

    def _rerouter(self):
        while True:
            self.reroute_wanted.wait()
            self.reroute_wanted.clear()
            try:
                self.run_pending_reroutes()
            except Exception:  # noqa: BLE001 - a dead rerouter would freeze every path
                self.logger.exception("qroute: rerouting failed; continuing")

    def reroute(self, reason: str, triggers: Sequence[str] = ()) -> int:
        """Recompute every host pair's path and install the difference; returns flows moved.

        ``triggers``: every reason this decision answers (default: ``reason`` alone); the
        reroute counter counts the decision once under each kind among them."""
        with self.route_lock:
            started = time.monotonic()
            graph = self.state.graph()
            flows = self.host_pairs()
            current = dict(self.paths)
            try:
                decided = tpool.execute(self.policy.decide, graph, flows, current,
                                        dict(self.flow_rate_bps))
            except Exception as error:  # noqa: BLE001 - a failed decision must not stop forwarding
                if self.policy is self.fallback_policy:
                    raise
                self.last_decision_error = f"reroute #{self.epoch + 1} ({reason}): {error!r}"
                self.policy_failures += 1
                self.metrics.policy_failures.inc()
                self.logger.exception("qroute: policy %s failed (%r); intact paths stay, new and "
                                      "broken ones get shortest paths", self.policy.name, error)
                decided = tpool.execute(keep_intact_else, self.fallback_policy, graph, flows, current)
            desired_hops, desired_paths = {}, {}
            for flow, path in decided.items():
                source, destination = (self.state.hosts.get(mac) for mac in flow)  # may have moved
                hops = source and destination and hops_for_path(path, destination, self.state.links,
                                                                source.dpid)
                installed = self.paths.get(flow)
                if not hops and source and destination and installed:
                    # a link of the decided path failed while the decision ran: an intact
                    # installed path stays rather than the flow losing its rules until the
                    # decision already asked for by that failure (a host that moved meanwhile
                    # leaves neither path usable; that move asked for a decision too)
                    path = installed
                    hops = hops_for_path(path, destination, self.state.links, source.dpid)
                if hops:
                    desired_hops[flow], desired_paths[flow] = hops, path
            # an unflagged flow's ingress rule is sent again even where its hops look unchanged
            changed = [f for f in desired_hops
                       if self.installed.get(f) != desired_hops[f] or f in self.unflagged]
            dropped = [f for f in self.installed if f not in desired_hops]
            if not changed and not dropped:
                return 0
            new = [f for f in changed if f not in self.paths]
            # the rest of `changed` keeps its path: rules rewritten there (a wiped switch's
            # restored, a host moved to another port of its switch)
            moved = [f for f in changed if f in self.paths and self.paths[f] != desired_paths[f]]
            self.epoch += 1
            # from here on a reconnecting switch may lose what this plan sends it; one that
            # reconnected while the policy ran is already stripped from self.installed
            self.wiped_switches.clear()
            plan = plan_phases(self.installed, desired_hops, self.epoch, self.unflagged)
            decided_in = time.monotonic() - started
            self._send_all(plan.prepare)
            self.await_barriers(Plan.switches(plan.prepare))
            self._send_all(plan.commit)
            self.await_barriers(Plan.switches(plan.commit))
            self._send_all(plan.cleanup)
            if self.wiped_switches:
                # a switch reconnected during the barrier waits: what this plan sent it before
                # then is gone, what it sent after went to the new connection and stands. Delete
                # both there, so that the switch holds only what is tracked; the next decision
                # puts them back
                self._send_all([(dpid, ofmsgs.delete_pair_rule(*flow)) for flow, hops in desired_hops.items()
                                for dpid, _ in hops if dpid in self.wiped_switches])
                desired_hops, self.unflagged = strip_switches(desired_hops, self.wiped_switches)
                desired_paths = {f: desired_paths[f] for f in desired_hops}
                self.request_reroute(f"switch {min(self.wiped_switches)} reconnected during a decision")
            else:
                self.unflagged = set()
            self.installed, self.paths = desired_hops, desired_paths
            self._forget_rates_of_removed_flows()
            self.reroutes += 1
            self.flows_moved += len(moved)
            elapsed = time.monotonic() - started
            for kind in dict.fromkeys(trigger.split()[0] for trigger in (triggers or [reason])):
                self.metrics.reroutes.labels(kind).inc()
            self.metrics.flows_moved.inc(len(moved))
            self.metrics.flows.set(len(desired_hops))
            self.metrics.decision_seconds.observe(decided_in)
            self.logger.info(
                "qroute: reroute #%d (%s): %d flows installed, %d new, %d moved, %d rewritten "
                "in place, %d removed; decided in %.1f ms, installed (with barriers) in %.1f ms",
                self.epoch, reason, len(desired_hops), len(new), len(moved),
                len(changed) - len(new) - len(moved), len(dropped),
                decided_in * 1000, (elapsed - decided_in) * 1000)
            return len(moved)

    # --- plumbing -------------------------------------------------------------------------
    def _send_all(self, messages):
        for dpid, message in messages:
            datapath = self.datapaths.get(dpid)
            if datapath is not None:
                self.send(datapath, message)

    def await_barriers(self, dpids, timeout_s: float = 1.0):
        """Wait until each switch has applied what it was sent (OpenFlow barrier), so that a
        flow is never switched to a path whose downstream rules are not in place yet. All
        switches are asked at once: the wait is the slowest reply, not the sum of them."""
        waiters = [hub.spawn(self._await_barrier, dpid, timeout_s) for dpid in sorted(dpids)
                   if dpid in self.datapaths]
        hub.joinall(waiters)

    def _await_barrier(self, dpid, timeout_s):
        datapath = self.datapaths.get(dpid)
        if datapath is None:
            return
        parser = datapath.ofproto_parser
        try:
            with hub.Timeout(timeout_s):
                ofctl_api.send_msg(self, parser.OFPBarrierRequest(datapath),
                                   reply_cls=parser.OFPBarrierReply)
        except (hub.Timeout, Exception) as error:  # noqa: BLE001 - never stall routing
            self.logger.warning("qroute: no barrier reply from %016x (%r); going on",
                                dpid, error)

    def send(self, datapath, message):
        message.datapath = datapath
        datapath.send_msg(message)

    def _periodic(self, name, interval, work):
        """Run `work` forever with ±10% jitter; an exception is logged, not fatal."""
        while True:
            hub.sleep(interval * random.uniform(0.9, 1.1))
            try:
                work()
            except Exception:  # noqa: BLE001 - a dead loop would silently stop the controller
                self.logger.exception("qroute: %s failed; continuing", name)

    def describe(self) -> dict:
        state = self.state
        return {
            "switches": sorted(state.switches),
            "links": [{"src": s, "dst": d, "src_port": p.src_port, "dst_port": p.dst_port,
                       "capacity_bps": state.capacity((s, d)),
                       "load_bps": state.load_bps.get((s, d), 0.0),
                       "utilisation": state.utilisation((s, d))}
                      for (s, d), p in sorted(state.links.items())],
            "hosts": [{"mac": h.mac, "ip": h.ip, "dpid": h.dpid, "port": h.port}
                      for h in sorted(state.hosts.values(), key=lambda h: h.mac)],
            "paths": [{"src": a, "dst": b, "path": list(p)}
                      for (a, b), p in sorted(self.paths.items())],
            "flow_rates_bps": [{"src": a, "dst": b, "bps": r}
                               for (a, b), r in sorted(self.flow_rate_bps.items())],
            "policy": getattr(self.policy, "description", self.policy.name),
            "policy_name": self.policy.name,
            "policy_problem": self.policy_problem,
            "metrics_problem": self.metrics_problem,
            "last_decision_error": self.last_decision_error,
            "epoch": self.epoch,
            # a decision is asked for or running: paths may be about to change
            "rerouting": bool(self.pending_reasons) or self.route_lock.locked(),
            "flows_moved": self.flows_moved,
            "policy_failures": self.policy_failures,
            "settings": dataclasses.asdict(self.settings),
        }
