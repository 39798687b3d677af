"""qroute's Ryu application: a thin shim between OpenFlow events and the pure routing code.

    ryu-manager controller/app.py [--config-file qroute.conf]

Events update a `NetworkState` (switches, links, hosts, measured link load); a routing policy
turns the state and each switch pair's measured demand into a split over tunnels per pair, off the
event loop; `InstalledTunnels` turns the difference from what is installed into phased tunnel
rules and select-group changes (a bucket never points at a tunnel not yet in place), which are
sent here. The pure code is handed the time (``self.clock()``) and returns ``(dpid, message)``
lists.
"""
from __future__ import annotations

import random
import time
from collections.abc import Sequence

from controller.compat import harden_openflow13_parser, patch_eventlet

patch_eventlet()
harden_openflow13_parser()

import eventlet  # noqa: E402
import eventlet.wsgi  # noqa: E402
from eventlet import tpool  # noqa: E402
from ryu.app.ofctl import api as ofctl_api  # noqa: E402  (loads ryu.app.ofctl.service)
from ryu.app.wsgi import WSGIApplication  # noqa: E402
from ryu.base import app_manager  # noqa: E402
from ryu.controller import ofp_event  # noqa: E402
from ryu.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER,  # noqa: E402
                                    MAIN_DISPATCHER, set_ev_cls)
from ryu.lib import hub  # noqa: E402
from ryu.ofproto import ofproto_v1_3  # noqa: E402
from ryu.topology import event as topo_event  # noqa: E402

from controller import arp_proxy, ofmsgs  # noqa: E402
from controller.api_token import provision_token  # noqa: E402
from controller.metrics import ControllerMetrics  # noqa: E402
from controller.netstate import NetworkState  # noqa: E402
from controller.pins import Pins, parse_pin  # noqa: E402
from controller.policy import keep_intact_else, make_policy  # noqa: E402
from controller.protection import PortLiveness  # noqa: E402
from controller.rest import ControllerStatus, UnknownPair, describe, register_rest_api  # noqa: E402
from controller.ryu_options import load_settings  # noqa: E402
from controller.stats import PairRates, PortRates, poll_requests  # noqa: E402
from controller.tunnels import Change, InstalledTunnels, Plan  # noqa: E402
from topologies.catalog import link_facts  # noqa: E402

class QRouteController(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = load_settings()
        self.clock = time.monotonic  # the time handed to the pure code (tests set their own)
        self.state = NetworkState(default_capacity_bps=self.settings.link_capacity_mbps * 1e6)
        if self.settings.topology:
            self.state.apply_link_facts(
                link_facts(self.settings.topology, self.settings.capacity_scale))
        self.datapaths = {}
        self.tunnels = InstalledTunnels(protect=self.settings.local_protection)
        self.liveness = PortLiveness()
        self.port_rates = PortRates(self.settings.stats_interval)
        self.pair_rates = PairRates()
        self.flood_guard = arp_proxy.FloodGuard(self.settings.arp_flood_window)
        self.status = ControllerStatus()
        self.policy, self.fallback_policy, self.status.policy_problem = make_policy(self.settings,
                                                                                   self.logger)
        self.route_lock = hub.BoundedSemaphore(1)
        self.pending_reasons: list[str] = []   # why a new decision was asked for, oldest first
        self.reroute_wanted = hub.Event()
        self.pins = Pins()
        self.released: set = set()  # pairs unpinned since the last decision
        self.api_token, self.api_token_source = provision_token(self.settings.api_token,
                                                                self.settings.api_token_file)
        self.metrics = ControllerMetrics(self.status)
        if self.settings.metrics_port:
            self._serve_metrics(self.settings.metrics_port)
        if self.settings.rest_api:
            register_rest_api(kwargs["wsgi"], self)
        self.logger.info("started (%s)", self.settings)
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
            self.status.metrics_problem = f"metrics_port {port} cannot be served ({error}); metrics are off"
            self.logger.error("%s", self.status.metrics_problem)
            return
        hub.spawn(eventlet.wsgi.server, sock, self.metrics.wsgi_app(), log_output=False)

    # --- switches -------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        datapath = ev.msg.datapath
        for message in [*ofmsgs.switch_reset(), ofmsgs.port_desc_request()]:
            self.send(datapath, message)

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state_change(self, ev):
        datapath = ev.datapath
        if datapath.id is None:
            return
        if ev.state == MAIN_DISPATCHER:
            self._switch_connected(datapath)
        elif ev.state == DEAD_DISPATCHER and self.datapaths.get(datapath.id) is datapath:
            # (a late DEAD of a connection already replaced by a new one is ignored)
            self._switch_left(datapath.id)

    def _switch_connected(self, datapath):
        dpid = datapath.id
        self.datapaths[dpid] = datapath
        self.state.add_switch(dpid)
        self.logger.info("switch %016x connected", dpid)
        if dpid > ofmsgs.MAX_GROUP_ID:
            self.logger.error("switch %016x: its dpid is above the largest select group id (%#x; "
                              "the ids above are qroute's fast-failover groups), and "
                              "qroute names each select group after its egress switch's dpid: "
                              "traffic to its hosts is not routed (give the bridge a smaller "
                              "other-config:datapath-id)", dpid, ofmsgs.MAX_GROUP_ID)
        # switch_features deleted qroute's rules and groups there; a switch can reconnect before
        # its old connection is seen to die, so forget what was installed on it and put it back.
        if self.tunnels.switch_wiped(dpid):
            self.pair_rates.forget_switch(dpid)
            self.request_reroute(f"switch {dpid} reconnected")

    def _switch_left(self, dpid):
        del self.datapaths[dpid]
        gone = self.state.remove_switch(dpid)
        self.liveness.forget_switch(dpid)
        # the ingresses stop hashing into tunnels through it at once, as for a failed link
        self._send_all(self.tunnels.links_down(gone))
        self.port_rates.forget_switch(dpid)
        self.pair_rates.forget_switch(dpid)
        self.logger.warning("switch %016x disconnected", dpid)
        self.request_reroute(f"switch {dpid} left")

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def port_desc(self, ev):
        ofp = ev.msg.datapath.ofproto
        self.liveness.described(ev.msg.datapath.id,
                                [p.port_no for p in ev.msg.body if p.state & ofp.OFPPS_LIVE])
        self.state.set_ports(ev.msg.datapath.id,
                             [p.port_no for p in ev.msg.body if p.port_no <= ofp.OFPP_MAX])

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port_status(self, ev):
        msg, ofp = ev.msg, ev.msg.datapath.ofproto
        dpid, port, deleted = msg.datapath.id, msg.desc.port_no, msg.reason == ofp.OFPPR_DELETE
        down = deleted or msg.desc.state & ofp.OFPPS_LINK_DOWN or msg.desc.config & ofp.OFPPC_PORT_DOWN
        # not live with the carrier up: BFD found the link dead (controller.protection)
        lost, regained = self.liveness.reported(dpid, port, bool(msg.desc.state & ofp.OFPPS_LIVE),
                                                bool(down))
        if lost:
            self.liveness.park(dpid, port, [(link, self.state.links[link])
                                            for link in self.state.links_at_port(dpid, port)])
        if regained:
            for (src, dst), info in self.liveness.unpark(dpid, port):
                if self.state.add_link(src, dst, info.src_port, info.dst_port):
                    self.request_reroute(f"link {src}-{dst} live again")
        # React to the port itself: LLDP would notice the dead link only seconds later.
        removed = self.state.port_changed(dpid, port, present=not deleted and port <= ofp.OFPP_MAX,
                                          down=bool(down or lost))
        for link in removed:
            self.metrics.forget_link(link)
        if removed:
            # the ingresses stop hashing traffic into tunnels over the dead link at once; the
            # decision that follows re-optimises the pairs that lost a tunnel
            self._send_all(self.tunnels.links_down(removed))
            self.logger.warning("link down at %016x port %d: %s", dpid, port,
                                ", ".join(f"{a:016x}-{b:016x}" for a, b in removed))
            self.request_reroute(f"link {removed[0][0]}-{removed[0][1]} down")

    # --- links (LLDP discovery by ryu.topology.switches) ----------------------------------
    @set_ev_cls(topo_event.EventLinkAdd)
    def link_add(self, ev):
        src, dst = ev.link.src, ev.link.dst
        if self.state.add_link(src.dpid, dst.dpid, src.port_no, dst.port_no):
            self.logger.info("link up %016x-%016x", src.dpid, dst.dpid)
            self.request_reroute(f"link {src.dpid}-{dst.dpid} up")

    @set_ev_cls(topo_event.EventLinkDelete)
    def link_delete(self, ev):
        src, dst = ev.link.src, ev.link.dst
        if self.state.remove_link(src.dpid, dst.dpid):
            self.metrics.forget_link((src.dpid, dst.dpid))
            self._send_all(self.tunnels.links_down([(src.dpid, dst.dpid)]))
            self.logger.warning("link lost %016x-%016x", src.dpid, dst.dpid)
            self.request_reroute(f"link {src.dpid}-{dst.dpid} lost")

    # --- packets --------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        learned, messages = arp_proxy.handle_packet(msg.data, msg.datapath.id, msg.match["in_port"],
                                                    self.clock(), self.state, self.flood_guard,
                                                    self.datapaths.keys())
        if learned:
            self.request_reroute(f"host {learned} seen")
        self._send_all(messages)

    # --- statistics -----------------------------------------------------------------------
    def _poll_stats(self):
        self._send_all(poll_requests(list(self.datapaths), self.state.hosts))

    @set_ev_cls(ofp_event.EventOFPGroupStatsReply, MAIN_DISPATCHER)
    def group_stats(self, ev):
        self.pair_rates.update(ev.msg.datapath.id, ev.msg.body, self.tunnels.group_pair,
                               self.tunnels.splits.get)

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def port_stats(self, ev):
        for link, rate in self.port_rates.update(ev.msg.datapath.id, ev.msg.body, self.clock(), self.state):
            self.state.set_load(link, rate)
            self.metrics.observe_link(link, rate, self.state.utilisation(link))

    # --- routing --------------------------------------------------------------------------
    def request_reroute(self, reason: str) -> None:
        """Ask for a new decision and return at once: event handlers (packet-in, port-status,
        link and switch events) must not wait while a decision runs, or the app's whole event
        queue stops with them. The rerouting greenthread runs one decision for every reason
        that arrived meanwhile."""
        self.pending_reasons.append(reason)
        self.reroute_wanted.set()

    def run_pending_reroutes(self) -> int:
        """One decision for all reasons asked for since the last one (hosts learned during a
        ping sweep cost one decision, not one each); returns switch pairs changed."""
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
            except Exception:
                self.logger.exception("rerouting failed; continuing")

    def reroute(self, reason: str, triggers: Sequence[str] = ()) -> int:
        """Recompute every switch pair's split and install the difference; returns the pairs
        whose paths or weights changed.

        ``triggers``: every reason this decision answers (default: ``reason`` alone); the
        reroute counter counts the decision once under each kind among them."""
        with self.route_lock:
            started = self.clock()
            graph, pairs, current = self.state.graph(), self.state.switch_pairs(), dict(self.tunnels.splits)
            # an unpinned pair's installed split was the operator's: the policy decides it afresh
            for pair in self.released:
                current.pop(pair, None)
            self.released = set()
            decided = self.pins.apply(self._decide(graph, pairs, current, reason), graph, pairs)
            desired = self.tunnels.resolve(decided, self.state)
            change = self.tunnels.diff(desired)
            if not change:
                return 0
            plan = self.tunnels.plan(desired)
            decided_in = self.clock() - started
            self._send_phases(plan)
            wiped = sorted(self.tunnels.wiped)
            self._send_all(self.tunnels.commit(desired))
            if wiped:
                self.request_reroute(f"switch {wiped[0]} reconnected during a decision")
            self.pair_rates.keep_only(self.tunnels.splits)
            self._record(reason, triggers or [reason], change, decided_in, self.clock() - started)
            return len(change.rerouted) + len(change.reweighted)

    def _decide(self, graph, pairs, current, reason):
        """The policy's decision, off the event loop. One that raises is counted and replaced:
        intact splits stay, new and broken pairs get shortest paths."""
        try:
            return tpool.execute(self.policy.decide, graph, pairs, current, dict(self.pair_rates.bps))
        except Exception as error:
            if self.policy is self.fallback_policy:
                raise
            self.status.policy_failed(f"reroute #{self.tunnels.epoch + 1} ({reason}): {error!r}")
            self.logger.exception("policy %s failed (%r); intact splits stay, new and broken pairs "
                                  "get shortest paths", self.policy.name, error)
            return tpool.execute(keep_intact_else, self.fallback_policy, graph, pairs, current)

    def _send_phases(self, plan: Plan) -> None:
        """Make before break: each phase is applied (barriers) before the next is sent."""
        for number, phase in enumerate(plan.phases):
            self._send_all(phase)
            if number < len(plan.phases) - 1:
                self.await_barriers(Plan.switches(phase))

    def _record(self, reason: str, triggers: Sequence[str], change: Change, decided_in: float,
                elapsed: float) -> None:
        self.status.rerouted(triggers, len(change.rerouted), len(change.reweighted),
                             len(self.tunnels.splits), len(self.tunnels.labels))
        self.metrics.decision_seconds.observe(decided_in)
        self.logger.info(
            "reroute #%d (%s): %d switch pairs over %d tunnels; %d new, %d rerouted, %d reweighted, "
            "%d removed; decided in %.1f ms, installed (with barriers) in %.1f ms",
            self.tunnels.epoch, reason, len(self.tunnels.splits), len(self.tunnels.labels),
            len(change.new), len(change.rerouted), len(change.reweighted), len(change.dropped),
            decided_in * 1000, (elapsed - decided_in) * 1000)

    # --- plumbing -------------------------------------------------------------------------
    def _send_all(self, messages):
        for dpid, message in messages:
            datapath = self.datapaths.get(dpid)
            if datapath is not None:
                self.send(datapath, message)

    def await_barriers(self, dpids, timeout_s: float = 1.0):
        """Wait until each switch has applied what it was sent (OpenFlow barrier), so that no
        bucket points at a tunnel whose downstream rules are not in place yet. All
        switches are asked at once: the wait is the slowest reply, not the sum of them."""
        waiters = [hub.spawn(self._await_barrier, dpid, timeout_s) for dpid in sorted(dpids)
                   if dpid in self.datapaths]
        hub.joinall(waiters)

    def _await_barrier(self, dpid, timeout_s):
        datapath = self.datapaths.get(dpid)
        if datapath is None:
            return
        request = ofmsgs.barrier_request()
        request.datapath = datapath
        try:
            with hub.Timeout(timeout_s):
                ofctl_api.send_msg(self, request, reply_cls=datapath.ofproto_parser.OFPBarrierReply)
        except (hub.Timeout, Exception) as error:  # noqa: BLE001 - never stall routing
            self.logger.warning("no barrier reply from %016x (%r); going on", dpid, error)

    def send(self, datapath, message):
        message.datapath = datapath
        datapath.send_msg(message)

    def _periodic(self, name, interval, work):
        """Run `work` forever with ±10% jitter; an exception is logged, not fatal."""
        while True:
            hub.sleep(interval * random.uniform(0.9, 1.1))
            try:
                work()
            except Exception:
                self.logger.exception("%s failed; continuing", name)

    def pin(self, pair, body):
        """Pin a switch pair's split (REST ``PUT /qroute/v1/pins/<src>-<dst>``), checked against
        the live graph, and ask for the decision that installs it; returns the pinned split."""
        graph = self.state.graph()
        missing = [dpid for dpid in pair if dpid not in graph]
        if missing:
            raise UnknownPair(f"switch {missing[0]} is not connected")
        split = parse_pin(pair, body, graph)
        self.pins.pin(pair, split)
        self.request_reroute(f"pin {pair[0]}-{pair[1]}")
        return split

    def unpin(self, pair) -> bool:
        removed = self.pins.unpin(pair)
        if removed:
            self.released.add(pair)
            self.request_reroute(f"unpin {pair[0]}-{pair[1]}")
        return removed

    def describe(self) -> dict:
        """The REST view (see :func:`controller.rest.describe`)."""
        rerouting = bool(self.pending_reasons) or self.route_lock.locked()
        return describe(self.state, self.tunnels, self.pair_rates, self.policy, self.status,
                        rerouting, self.settings)
