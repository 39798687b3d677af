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

import logging
import os
import random
import signal
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
                                    HANDSHAKE_DISPATCHER, MAIN_DISPATCHER, set_ev_cls)
from ryu.lib import hub  # noqa: E402
from ryu.ofproto import ofproto_v1_3  # noqa: E402
from ryu.topology import event as topo_event  # noqa: E402

from controller import (arp_proxy, decision_guard, edge_guard, group_ids, ha,  # noqa: E402
                        of_errors, ofmsgs, readback, state_file)
from controller.api_token import provision_token  # noqa: E402
from controller.decision_log import (DecisionLog, is_failure, pair_changes,  # noqa: E402
                                     periodic_only_while_idle)
from controller.decision_guard import predicted_mlu  # noqa: E402
from controller.drain import DrainedLinks, cable  # noqa: E402
from controller.metrics import (ControllerMetrics, EdgeCollector, exposure_warning,  # noqa: E402
                                listen_family, measured_mlu)
from controller.netstate import NetworkState  # noqa: E402
from controller.pins import Pins, parse_pin  # noqa: E402
from controller.policy import keep_intact_else, make_policy  # noqa: E402
from controller.policy_switch import ControlError, switched_settings  # noqa: E402
from controller.settings import default_checkpoint  # noqa: E402
from controller.protection import PortLiveness  # noqa: E402
from controller.rest import (ControllerStatus, UnknownPair, describe,  # noqa: E402
                             openflow_error_seen, register_rest_api)
from controller.topology_view import node_facts, topology_view  # noqa: E402
from controller.ryu_options import _ryu_options, load_settings  # noqa: E402
from controller.stats import PairRates, PortRates, poll_requests  # noqa: E402
from controller.tunnels import Change, InstalledTunnels, Plan  # noqa: E402
from controller.ofp_channel import REGISTRY as DPID_REGISTRY  # noqa: E402
from controller.ofp_channel import fix_tls_listener, guard_dpids  # noqa: E402
from topologies.catalog import link_facts  # noqa: E402

def ryu_listen_ports() -> dict[str, int]:
    return _ryu_options()[1]


guard_dpids()       # a second connection does not take a live switch's dpid
fix_tls_listener()  # every switch can connect over TLS, not the first alone

# after a restart switches connect over a few seconds; one holding groups named after later ones
# is read again once they pause this long, or at the latest this long after it became due (a
# switch that keeps reconnecting must not hold decisions back)
REREAD_QUIET_S = 0.5
REREAD_LATEST_S = 2.0


class PolicyAbandoned(Exception):
    """The policy's decision was not waited for (``why``: deadline, failure or busy)."""

    def __init__(self, why: str, detail: str):
        super().__init__(detail)
        self.why = why


class QRouteController(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = load_settings()
        self.clock = time.monotonic  # the time handed to the pure code (tests set their own)
        self.wall_clock = time.time  # the decision log's record times
        self.state = NetworkState(default_capacity_bps=self.settings.link_capacity_mbps * 1e6)
        if self.settings.topology:
            self.state.apply_link_facts(
                link_facts(self.settings.topology, self.settings.capacity_scale))
        self.datapaths = {}
        self.tunnels = InstalledTunnels(protect=self.settings.local_protection)
        self.liveness = PortLiveness()
        self.port_rates = PortRates(self.settings.stats_interval)
        self.pair_rates = PairRates(self.settings.demand_hold)
        self.flood_guard = arp_proxy.FloodGuard(self.settings.arp_flood_window)
        self.edge = edge_guard.EdgeGuard(edge_guard.EdgeLimits.from_settings(self.settings),
                                         self.logger)
        self.packet_in_budget = edge_guard.PacketInBudget(self.settings.packet_in_port_budget,
                                                          self.settings.port_block_seconds)
        self.dpid_registry = DPID_REGISTRY
        self.dpid_registry.log = self.logger
        self.status = ControllerStatus()
        self.policy, self.fallback_policy, self.status.policy_problem = make_policy(self.settings,
                                                                                   self.logger)
        if getattr(self.policy, "time_limit", 0) >= self.settings.decision_timeout:
            self.logger.warning("policy %s may take up to %g s, decision_timeout is %g s: its slow "
                                "decisions will be abandoned for the fallback", self.policy.name,
                                self.policy.time_limit, self.settings.decision_timeout)
        self.route_lock = hub.BoundedSemaphore(1)
        self.policy_switch_lock = hub.BoundedSemaphore(1)  # PUT /qroute/v1/policy, one at a time
        self.pending_reasons: list[str] = []   # why a new decision was asked for, oldest first
        self.reroute_wanted = hub.Event()
        self.pins = Pins()
        self.drained = DrainedLinks()
        self.drained_carrying: set = set()  # drained cables a failure put back in the graph
        self.decisions = DecisionLog(self.settings.decision_log_size, self.settings.stats_interval,
                                     os.path.expanduser(self.settings.decision_log_file)
                                     if self.settings.decision_log_file else "",
                                     run=round(self.wall_clock(), 3), log=self.logger)
        self.decided_by = ("", "")  # (the policy that decided the last decision, why the fallback did)
        self.nodes = node_facts(self.settings.topology)
        self.released: set = set()  # pairs unpinned since the last decision
        # deadlines, guards, the churn budget, and what was sent under which xid
        self.policy_call = None         # the policy's running decision (a greenthread), if any
        self.policy_wait = None         # the event a decision waits on, while it waits
        self.wait_cut_short = ""        # the failure that ended a wait early
        self.moved_at: dict = {}        # pair -> when a decision last rerouted or reweighed it
        self.sent_log = of_errors.SentLog()
        self.refused = of_errors.RefusedPairs()
        self.refused_during_plan: list = []  # errors to apply to the record once it is committed
        self.sent_pairs: set = set()    # pairs whose rules or groups were added since the last commit
        self.retry_due: float | None = None
        self._labels_seen = (None, {})  # (a labels dict, its inverse): the label -> path cache
        self.api_token, self.api_token_source = provision_token(self.settings.api_token,
                                                                self.settings.api_token_file)
        self.ha = ha.HighAvailability(self._leadership())
        self.metrics = ControllerMetrics(self.status)
        self.metrics.watch_role(self.ha)
        self.metrics.watch_network(self)
        self.metrics.registry.register(EdgeCollector(self.edge, self.packet_in_budget,
                                                     self.dpid_registry))
        if self.settings.metrics_port:
            self._serve_metrics(self.settings.metrics_port)
        if self.settings.rest_api:
            register_rest_api(kwargs["wsgi"], self)
        self.logger.info("started (%s)", self.settings)
        self._start_resync()
        hub.spawn(self._periodic, "statistics poll", self.settings.stats_interval,
                  self._poll_stats)
        hub.spawn(self._rerouter)
        hub.spawn(self._periodic, "re-optimisation", self.settings.reoptimize_interval,
                  lambda: self.request_reroute("periodic"))
        hub.spawn(self._periodic, "host claims", self.settings.host_probe_timeout / 2,
                  self._settle_host_claims)
        hub.spawn(self._periodic, "resync", 0.5, self.check_resync)
        if self.ha.enabled:
            logging.getLogger(ha.OFCTL_LOGGER).addFilter(ha.WithoutOfctlsUnknownErrors())
            hub.spawn(self._campaign)
            if ryu_listen_ports():  # under ryu-manager (not an app built by a test)
                signal.signal(signal.SIGTERM, self._terminated)

    # --- high availability ------------------------------------------------------------------
    def _leadership(self):
        """The etcd campaign, with etcd_endpoint set (else None: one controller, role EQUAL)."""
        if not self.settings.etcd_endpoint:
            return None
        from etcd3gw.client import Etcd3Client

        from controller.leadership import Leadership
        from controller.settings import etcd_address

        protocol, host, port = etcd_address(self.settings.etcd_endpoint)
        # under ryu-manager sockets are green: a request waits in this greenthread alone, and
        # the timeout keeps an unreachable etcd from outliving the lease
        client = Etcd3Client(host=host, port=port, protocol=protocol,
                             timeout=self.settings.leader_ttl / 3)
        controller_id = self.settings.controller_id or ha.default_controller_id(
            ryu_listen_ports().get("--ofp-tcp-listen-port"))
        self.logger.info("high availability: etcd %s, controller id %s, lease %d s",
                         self.settings.etcd_endpoint, controller_id, self.settings.leader_ttl)
        return Leadership(client, controller_id, self.settings.leader_ttl)

    def _terminated(self, signum, frame):
        # a greenthread, not the handler, talks to etcd (a handler may not switch greenlets)
        hub.spawn(self._resign_and_exit, signum)

    def _resign_and_exit(self, signum):
        self.close()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # ends as an unhandled SIGTERM would have

    def close(self):
        """A clean shutdown gives the leadership up at once: another controller takes over
        without waiting for the lease to run out."""
        if self.ha.enabled and self.ha.role.leading:
            self.logger.warning("high availability: resigning as master")
        if self.ha.enabled:
            self.ha.leadership.resign()

    def _campaign(self):
        while True:
            try:
                self.step_leadership()
            except Exception:
                self.logger.exception("leadership step failed; continuing")
            hub.sleep(self.ha.step_interval())

    def step_leadership(self) -> None:
        """One step of the campaign; a change of role goes to every switch at once, and a new
        master reads every switch back before its first decision."""
        problem = self.ha.leadership.problem
        became, deposed, messages = self.ha.step(self.clock(), self.datapaths)
        if self.ha.leadership.problem and self.ha.leadership.problem != problem:
            self.logger.error("high availability: %s", self.ha.leadership.problem)
        self._send_all(messages)
        if became:
            self.logger.warning("high availability: master now (generation %d); reading back "
                                "%d switches before deciding", self.ha.role.term.generation,
                                len(self.datapaths))
            self._take_over()
        elif deposed:
            self.logger.warning("high availability: no longer master (holder %s); sending no "
                                "more rules", self.ha.role.term.holder or "none")

    def _take_over(self) -> None:
        """What every switch holds is read back (the previous master may have changed it since
        this controller last looked), under a hold like the start-up one: no decision until
        every connected switch is read back and the links its tunnels use are known."""
        now = self.clock()
        self.hold = readback.StartupHold(now, self.settings.resync_timeout, set(self.datapaths))
        self.held_reasons = []
        for dpid, datapath in sorted(self.datapaths.items()):
            self.tunnels.switch_reconnected(dpid)
            self.readback.connected(dpid, now)
            self._read_back(datapath)
        self.request_reroute("became master")

    def _serve_metrics(self, port: int) -> None:
        """Metrics are an extra: a port that cannot be bound is reported, and routing goes on."""
        bind = self.settings.metrics_bind
        try:
            # no SO_REUSEPORT (eventlet's default): a port another server holds must fail here
            sock = eventlet.listen((bind, port), family=listen_family(bind), reuse_port=False)
        except OSError as error:
            self.status.metrics_problem = (f"metrics_port {port} cannot be served on {bind} "
                                           f"({error}); metrics are off")
            self.logger.error("%s", self.status.metrics_problem)
            return
        exposed = exposure_warning(bind, port)
        if exposed:
            self.logger.warning("%s", exposed)
        hub.spawn(eventlet.wsgi.server, sock, self.metrics.wsgi_app(), log_output=False)

    # --- resync: a restarted controller, a reconnecting switch -----------------------------
    def _start_resync(self) -> None:
        """Read back switches instead of flushing them, and know at once, from the state file,
        the hosts, links and tunnels they had: decisions wait (the start-up hold) until the
        file's switches are read back and its tunnels' links known, or resync_timeout."""
        self.readback = readback.ReadBack(lambda group_id: self.tunnels.names.egress(group_id))
        # switches holding select groups named after a switch that connected since: read again
        # once no switch has connected for REREAD_QUIET_S (once for a burst of connections,
        # not once for each)
        self.reread_soon: set[int] = set()
        self.last_connect_at = self.reread_due_at = self.clock()
        self.held_reasons: list[str] = []
        self.provisional_links: dict = {}     # link -> when restored from the state file
        self.saved = None
        self.state_file_problem = ""
        if self.settings.state_file:
            topology_links = None
            if self.settings.topology:
                topology_links = {(a, b) for a, b, _, _ in
                                  link_facts(self.settings.topology, self.settings.capacity_scale)}
            self.saved, self.state_file_problem = state_file.load(
                self.settings.state_file, self.settings.topology, topology_links)
            if self.state_file_problem:
                self.logger.error("%s", self.state_file_problem)
        saved = self.saved
        self.hold = readback.StartupHold(self.clock(), self.settings.resync_timeout,
                                         saved.switches() if saved else set(),
                                         saved.path_links() if saved else set())
        if saved is None:
            return
        self.state.hosts.update(saved.hosts)
        self.drained.cables |= saved.drained  # still out of the graph after a restart
        self.tunnels.remember(saved.labels, saved.splits, saved.backups)
        self.tunnels.epoch = max(self.tunnels.epoch, saved.epoch)
        self.logger.info("state file %s: %d hosts, %d links, %d tunnels, %d switch pairs, epoch %d; "
                         "waiting up to %g s for switches %s", self.settings.state_file,
                         len(saved.hosts), len(saved.links), len(saved.labels), len(saved.splits),
                         saved.epoch, self.settings.resync_timeout, sorted(saved.switches()))

    def _read_back(self, datapath) -> None:
        flows, groups = ofmsgs.app_flow_stats_request(), ofmsgs.group_desc_request()
        self.send(datapath, flows)
        self.send(datapath, groups)
        self.readback.requested(datapath.id, flows.xid, groups.xid, self.clock())

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        self._read_back_part(ev.msg, self.readback.flow_reply)

    @set_ev_cls(ofp_event.EventOFPGroupDescStatsReply, MAIN_DISPATCHER)
    def group_desc(self, ev):
        self._read_back_part(ev.msg, self.readback.group_reply)

    def _read_back_part(self, msg, collect) -> None:
        """One part of a read-back reply; the switch is adopted once both replies are whole."""
        more = bool(msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE)
        entries = collect(msg.datapath.id, msg.xid, msg.body, more, self.clock())
        if entries is not None:
            self._adopt(entries)

    def _adopt(self, entries: readback.SwitchEntries) -> None:
        """A switch's read-back is complete: its rules and groups are the record's part for
        it, the hosts it delivers to are known, entries of no kind qroute installs go, and the
        next decision (once the hold is over) changes only what differs."""
        dpid = entries.dpid
        if dpid not in self.datapaths:
            return
        self.tunnels.adopt(entries, self.clock())
        if self.hold.ended_at is None:
            self.hold.expect(entries)
        learned = [mac for mac, port in sorted(entries.delivery.items())
                   if mac not in self.state.hosts and self.state.learn_host(mac, dpid, port)]
        base = readback.missing_base_rules(entries, self._base_rules())
        if any(getattr(inst, "meter_id", None) == edge_guard.PACKET_IN_METER_ID
               for _, mod in base for inst in mod.instructions):
            # the meter before the first rule through it (on a switch that kept the meter
            # the ADD fails harmlessly, METER_EXISTS)
            base.insert(0, (dpid, edge_guard.packet_in_meter(self.settings.packet_in_rate)))
        stale = readback.stale_deletions(entries)
        if not self.ha.writes_allowed():
            base, stale = [], []  # a standby changes nothing: the master adds and deletes
        self._send_all(base + stale)  # a new base rule before an old one of its place goes
        self.metrics.read_backs.labels("read back").inc()
        self.metrics.stale_entries_deleted.inc(len(stale))
        self.logger.info("switch %016x read back: %d tunnel rules, %d groups, %d classification and "
                         "%d delivery rules, %d base rules (newest epoch %d; %d base rules added); %d "
                         "hosts learned from them; %d entries of no known kind deleted%s", dpid,
                         len(entries.tunnel_rules), len(entries.groups), len(entries.classify),
                         len(entries.delivery), len(entries.base), entries.epoch, len(base),
                         len(learned), len(stale),
                         f"; {len(entries.unresolved_groups)} select groups towards switches not "
                         "connected yet left as they are" if entries.unresolved_groups else "")
        self.request_reroute(f"switch {dpid} read back")
        self.check_resync()

    def _delete_unnamed_groups(self, dpids) -> None:
        """Select groups on `dpids` still named after no connected switch, resync_timeout after
        they were read back (or after the start-up hold), lead towards one that did not come
        back: they go (the switch deletes the rules sending to them with them), as a plan
        deletes the groups of pairs whose egress has gone. (Until then they go on forwarding:
        switches that reconnect one after another adopt them as the switch named connects.)"""
        unnamed = self.tunnels.unnamed
        messages = [(dpid, ofmsgs.group_delete_id(group_id)) for dpid, group_id in unnamed.ids(dpids)]
        if not messages or not self.ha.writes_allowed():
            return
        self.logger.warning("%d select groups towards switches that did not connect deleted (%s)",
                            len(messages), ", ".join(f"{m.group_id:#x} on {dpid:016x}"
                                                     for dpid, m in messages))
        self._send_all(messages)
        for dpid in dpids:
            unnamed.forget(dpid)

    def _base_rules(self) -> list:
        """The base rules as this controller installs them: the to-controller ones through the
        packet-in meter when packet_in_rate is set."""
        rules = ofmsgs.base_rules()
        return edge_guard.metered(rules) if self.settings.packet_in_rate else rules

    def _restore_links(self, down=frozenset()) -> None:
        """The state file's links whose two ports are there now, provisionally (LLDP confirms
        them, or they go when it has not within resync_timeout after the hold); not over a
        port reported down (`down`: (dpid, port))."""
        if self.saved is None:
            return
        for (src, dst), (src_port, dst_port) in sorted(self.saved.links.items()):
            if (src, dst) in self.state.links or (src, dst) in self.provisional_links or \
                    (src, src_port) in down or (dst, dst_port) in down:
                continue
            if src_port in self.state.ports.get(src, ()) and dst_port in self.state.ports.get(dst, ()) \
                    and src in self.datapaths and dst in self.datapaths:
                self.state.add_link(src, dst, src_port, dst_port)
                self.provisional_links[(src, dst)] = self.clock()

    def resync_reason(self) -> str:
        """Why decisions wait now ("" when they need not)."""
        linked = {(src, ports.src_port) for (src, _), ports in self.state.links.items()}
        # the groups waiting for their switch matter only during the hold (after it they go
        # by resync_timeout, check_resync)
        unnamed = self.tunnels.unnamed.ids() if self.hold.ended_at is None else ()
        return self.hold.reason(self.clock(), self._read_back_switches(),
                                set(self.readback.pending) | self.reread_soon, self.state.links, linked,
                                unnamed)

    def _read_back_switches(self) -> set[int]:
        return {dpid for dpid, sync in self.readback.sync.items()
                if (sync.read_back_at is not None or sync.failed) and dpid in self.datapaths}

    def check_resync(self) -> None:
        """Reads again the switches holding groups named after switches connected since (once
        the connections pause, or REREAD_LATEST_S after the first of them); ends the hold when
        nothing is waited for any more (and asks for the decision held back); gives up on
        read-backs that never completed; drops provisional links LLDP never confirmed."""
        now = self.clock()
        if self.reread_soon and (now - self.last_connect_at >= REREAD_QUIET_S
                                 or now - self.reread_due_at >= REREAD_LATEST_S):
            for waiting in sorted(self.reread_soon & set(self.datapaths)):
                self.tunnels.switch_reconnected(waiting)  # a plan under way reads it again too
                self._read_back(self.datapaths[waiting])
            self.reread_soon = set()
        for dpid in self.readback.give_up(now, self.settings.resync_timeout):
            self.logger.error("switch %016x: %s; taken as holding nothing of qroute's", dpid,
                              self.readback.sync[dpid].failed)
            self.tunnels.adopt(readback.SwitchEntries(dpid), now)
            self._send_all([(dpid, rule) for rule in ofmsgs.base_rules()])
            self.metrics.read_backs.labels("failed").inc()
            self.request_reroute(f"switch {dpid} read back")
        if self.hold.ended_at is None and not self.resync_reason():
            self.hold.ended_at = now
            traced = self.tunnels.trace(self.state.links)
            if traced:
                self.logger.info("%d read-back tunnels without a known path followed through the "
                                 "switches' rules", traced)
            self._delete_unnamed_groups(list(self.tunnels.unnamed.by_switch))
            gone = [mac for mac, host in self.state.hosts.items() if host.dpid not in self.state.switches]
            for mac in gone:  # the state file's hosts on switches that never came back
                del self.state.hosts[mac]
            self.logger.info("resync done %.1f s after start: %d switches read back%s",
                             now - self.hold.started,
                             len(self._read_back_switches()),
                             f"; {len(gone)} hosts of absent switches forgotten" if gone else "")
            self.request_reroute("resync done")
        if self.hold.ended_at is not None:
            self._delete_unnamed_groups(self.tunnels.unnamed.overdue(
                now, self.settings.resync_timeout, self.hold.ended_at))
            for link, since in list(self.provisional_links.items()):
                if now - max(since, self.hold.ended_at) >= self.settings.resync_timeout:
                    del self.provisional_links[link]
                    if self.state.remove_link(*link):
                        self.logger.warning("link %016x-%016x of the state file not confirmed by LLDP; "
                                            "removed", *link)
                        self._send_all(self.tunnels.links_down([link]))
                        self.request_reroute(f"link {link[0]}-{link[1]} lost")
        if self.hold.ended_at is not None and self.held_reasons and not self.resync_reason():
            self.request_reroute("resync done")

    def save_state(self) -> None:
        """The state file, rewritten (not while the start-up hold lasts: what is known then is
        less than the file holds)."""
        if not self.settings.state_file or self.hold.ended_at is None:
            return
        snapshot = state_file.snapshot(self.settings.topology, self.tunnels.epoch, self.state.hosts,
                                       self.state.links, self.tunnels.labels, self.tunnels.splits,
                                       self.tunnels.record.backups, self.drained.cables)
        try:
            state_file.write(self.settings.state_file, snapshot)
        except OSError as error:
            self.logger.error("state file %s cannot be written (%s)", self.settings.state_file, error)

    def resync_view(self) -> dict:
        return {"holding": self.resync_reason(), "state_file": self.settings.state_file,
                "state_file_problem": self.state_file_problem,
                "hold_ended_s": (None if self.hold.ended_at is None
                                 else round(self.hold.ended_at - self.hold.started, 3)),
                "switches": self.readback.view(self.clock())}

    # --- switches -------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        # no flush: what the switch holds is read back once it is connected (_switch_connected),
        # and only the base rules it lacks are added then (those in place keep their counters)
        datapath = ev.msg.datapath
        for _, message in self.ha.role.on_connect(datapath.id):  # before anything else
            self.send(datapath, message)
        self.send(datapath, ofmsgs.port_desc_request())

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
        self.metrics.switch_connects.inc()
        self.sent_log.forget_switch(dpid)  # a new connection's xids say nothing of the old one's
        self.state.add_switch(dpid)
        self.logger.info("switch %016x connected", dpid)
        claimed_by = self.tunnels.names.add(dpid)
        if claimed_by is not None:
            self.logger.error("switch %016x: its select group id %#x (a hash of its dpid) is "
                              "switch %016x's already, and qroute names each select group after "
                              "its egress switch: traffic to its hosts is not routed (give one "
                              "of the bridges another other-config:datapath-id)", dpid,
                              group_ids.select_group_id(dpid), claimed_by)
        # switches read back holding select groups named after this one are read again (and
        # adopt them) once the connections pause (check_resync)
        waiting = self.tunnels.unnamed.holding(group_ids.select_group_id(dpid))
        if waiting and not self.reread_soon:
            self.reread_due_at = self.clock()
        self.reread_soon.update(waiting)
        self.last_connect_at = self.clock()
        # a switch can reconnect before its old connection is seen to die: what it holds is
        # read back and adopted; decisions wait for that (resync_reason)
        self.tunnels.switch_reconnected(dpid)
        self.pair_rates.forget_switch(dpid)
        self.readback.connected(dpid, self.clock())
        self._read_back(datapath)

    def _switch_left(self, dpid):
        del self.datapaths[dpid]
        self.tunnels.unnamed.forget(dpid)
        self.reread_soon.discard(dpid)
        self.metrics.switch_disconnects.inc()
        self.packet_in_budget.forget_switch(dpid)
        self.readback.left(dpid)
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
        for port in ev.msg.body:  # a host known behind a port already down is gone
            self.edge.port_changed(ev.msg.datapath.id, port.port_no,
                                   down=bool(port.state & ofp.OFPPS_LINK_DOWN
                                             or port.config & ofp.OFPPC_PORT_DOWN))
        self._restore_links(down={(ev.msg.datapath.id, p.port_no) for p in ev.msg.body
                                  if p.state & ofp.OFPPS_LINK_DOWN or p.config & ofp.OFPPC_PORT_DOWN})
        self.check_resync()

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
        self.edge.port_changed(dpid, port, down=bool(down or lost))
        self._settle_host_claims()  # a claim on a host behind that port needs no probe answer
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
        self.provisional_links.pop((src.dpid, dst.dpid), None)  # LLDP confirms it
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
        self.metrics.packet_in(msg.reason)
        dpid, in_port, now = msg.datapath.id, msg.match["in_port"], self.clock()
        if not self.state.is_link_port(dpid, in_port):
            admitted, drops = self.packet_in_budget.admit(dpid, in_port, now)
            if drops:
                self.logger.warning("switch %016x port %d sent over %d packet-ins/s: what it sends "
                                    "the controller is dropped for %d s", dpid, in_port,
                                    self.packet_in_budget.per_second,
                                    self.packet_in_budget.block_s)
                self._send_all(drops)
            if not admitted:
                return
        learned, messages = arp_proxy.handle_packet(msg.data, dpid, in_port, now, self.state,
                                                    self.flood_guard, self.datapaths.keys(),
                                                    self.edge)
        if learned:
            self.request_reroute(f"host {learned} seen")
            self.save_state()
        self._send_all(messages)

    def _settle_host_claims(self):
        for mac in self.edge.settle(self.state, self.clock()):
            self.request_reroute(f"host {mac} seen")

    # --- statistics -----------------------------------------------------------------------
    def _poll_stats(self):
        self._send_all(poll_requests(list(self.datapaths), self.state.hosts))

    @set_ev_cls(ofp_event.EventOFPGroupStatsReply, MAIN_DISPATCHER)
    def group_stats(self, ev):
        self.pair_rates.update(ev.msg.datapath.id, ev.msg.body, self.tunnels.group_pair,
                               self.tunnels.splits.get, now=self.clock())

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def port_stats(self, ev):
        for link, rate in self.port_rates.update(ev.msg.datapath.id, ev.msg.body, self.clock(), self.state):
            self.state.set_load(link, rate)
            self.metrics.observe_link(link, rate, self.state.utilisation(link))
        self.decisions.measured(self.measured_mlu(), self.clock())

    def measured_mlu(self) -> float | None:
        """The largest measured utilisation of the live links (None before any is measured)."""
        return measured_mlu(self.state)

    # --- routing --------------------------------------------------------------------------
    def request_reroute(self, reason: str) -> None:
        """Ask for a new decision and return at once: event handlers (packet-in, port-status,
        link and switch events) must not wait while a decision runs, or the app's whole event
        queue stops with them. The rerouting greenthread runs one decision for every reason
        that arrived meanwhile."""
        self.pending_reasons.append(reason)
        self.reroute_wanted.set()
        if is_failure(reason) and self.policy_wait is not None and not self.wait_cut_short:
            # the repair must not wait behind a policy still deciding for the network before it
            self.wait_cut_short = reason
            self.policy_wait.set()

    def run_pending_reroutes(self) -> int:
        """One decision for all reasons asked for since the last one (hosts learned during a
        ping sweep cost one decision, not one each); returns switch pairs changed."""
        reasons, self.pending_reasons = self.pending_reasons, []
        if not reasons or not self.ha.writes_allowed():
            return 0  # a standby decides nothing: a new master reads back, then decides
        if self.hold.ended_at is None:
            self.check_resync()
        if self.resync_reason():  # the hold, or a read-back: check_resync asks again when done
            self.held_reasons += reasons
            return 0
        reasons, self.held_reasons = self.held_reasons + reasons, []
        if periodic_only_while_idle(reasons, self.measured_mlu(), self.settings.reoptimize_above):
            self.metrics.reoptimisations_skipped.inc()
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
        if not self.ha.writes_allowed():
            return 0
        with self.route_lock:
            started = self.clock()
            wall, mlu_before = self.wall_clock(), self.measured_mlu()
            # one drained set for the whole decision: a drain arriving while the policy decides
            # waits for the next one (the tunnels are built on the graph the policy decided on)
            drained_cables = frozenset(self.drained.cables)
            out = self.out_of_graph(drained_cables)
            graph, pairs = self.routing_graph(out), self.state.switch_pairs()
            current = dict(self.tunnels.splits)
            # an unpinned pair's installed split was the operator's: the policy decides it afresh
            for pair in self.released:
                current.pop(pair, None)
            self.released = set()
            if any((t.startswith("link ") and t.endswith(" up")) or
                   (t.startswith("switch ") and " reconnected" in t) for t in triggers or [reason]):
                self.refused.reset()  # another path, or room freed: refused pairs may try again
            self.refused.keep_only(pairs)
            self.wait_cut_short = ""
            demand = self.pair_rates.demand(self.clock())
            decided = self._decide(graph, pairs, current, reason, demand)
            if self.wait_cut_short:
                # a failure ended the wait: the fallback decides on the network as it is now
                out = self.out_of_graph(drained_cables)
                graph, pairs = self.routing_graph(out), self.state.switch_pairs()
                decided = tpool.execute(keep_intact_else, self.fallback_policy, graph, pairs, current)
                if not self.decided_by[1]:
                    self._fell_back(f"failure: {self.wait_cut_short} ended the wait")
            decided = self._within_budget(decided, current, graph, demand)
            decided = self._refused_pairs_fall_back(decided, graph)
            decided = self.pins.apply(decided, graph, pairs)
            desired = self.tunnels.resolve(decided, self.drained.routing_state(self.state, out))
            change = self.tunnels.diff(desired)
            predicted = predicted_mlu(graph, desired.splits, demand) if any(demand.values()) else None
            logged = dict(wall=wall, reasons=list(triggers or [reason]), policy=self.decided_by[0],
                          fallback=self.decided_by[1], predicted_mlu=predicted, mlu_before=mlu_before)
            if not change:
                self._show_not_installed()
                self.metrics.decision_seconds.observe(self.clock() - started)
                self.decisions.record(now=self.clock(), decision_s=self.clock() - started, install_s=0.0,
                                      changes=[], epoch=self.tunnels.epoch, **logged)
                return 0
            plan = self.tunnels.plan(desired)
            decided_in = self.clock() - started
            self.sent_pairs = set()
            sent_to, silent = self._send_phases(plan)
            if silent:
                self._abort_plan(sent_to, silent)
                self.decisions.record(now=self.clock(), decision_s=decided_in,
                                      install_s=self.clock() - started - decided_in, changes=[],
                                      epoch=self.tunnels.epoch, aborted=sorted(silent), **logged)
                return 0
            self._send_all(self.tunnels.commit(desired))
            self._after_commit(change)
            self._read_back_unsure()
            self.save_state()
            self.pair_rates.keep_only(self.tunnels.splits)
            self._record(reason, triggers or [reason], change, decided_in, self.clock() - started)
            self.decisions.record(now=self.clock(), decision_s=decided_in,
                                  install_s=self.clock() - started - decided_in,
                                  changes=pair_changes(change, self.tunnels.splits),
                                  epoch=self.tunnels.epoch, **logged)
            return len(change.rerouted) + len(change.reweighted)

    def _fell_back(self, why: str) -> None:
        self.decided_by = (f"{self.fallback_policy.name} (fallback)", why)

    def _decide(self, graph, pairs, current, reason, demand):
        """The policy's decision on ``demand``, off the event loop, checked by the guard. One
        that raises, overruns decision_timeout (or a failure's arrival), or is rejected is
        counted and replaced: intact splits stay, new and broken pairs get shortest paths.
        Who decided, and why the fallback did, is left in ``decided_by``."""
        self.decided_by = (self.policy.name, "")
        if self.policy is self.fallback_policy:
            if self.status.policy_problem:  # the configured policy could not be built
                self._fell_back(self.status.policy_problem)
            return tpool.execute(self.policy.decide, graph, pairs, current, demand)
        number = self.tunnels.epoch + 1
        try:
            decided = self._policy_within_deadline(graph, pairs, current, demand)
        except PolicyAbandoned as abandoned:
            self.status.decisions_abandoned[abandoned.why] += 1
            self.status.last_abandoned = f"reroute #{number} ({reason}): {abandoned}"
            self.logger.warning("policy %s: %s; intact splits stay, new and broken pairs get "
                                "shortest paths", self.policy.name, abandoned)
            self._fell_back(f"{abandoned.why}: {abandoned}")
            return tpool.execute(keep_intact_else, self.fallback_policy, graph, pairs, current)
        except Exception as error:
            self.status.policy_failed(f"reroute #{number} ({reason}): {error!r}")
            self.logger.exception("policy %s failed (%r); intact splits stay, new and broken pairs "
                                  "get shortest paths", self.policy.name, error)
            self._fell_back(f"failed: {error!r}")
            return tpool.execute(keep_intact_else, self.fallback_policy, graph, pairs, current)
        fallback = tpool.execute(keep_intact_else, self.fallback_policy, graph, pairs, current)
        verdict = decision_guard.check_decision(decided, graph, pairs, fallback, demand,
                                                self.settings.mlu_tolerance)
        for problem in verdict.problems:
            self.status.decisions_rejected[problem] += 1
        if verdict.problems:
            self.status.last_rejected = f"reroute #{number} ({reason}): {verdict.summary()}"
            if verdict.rejected:
                self._fell_back(f"rejected: {verdict.summary()}")
                self.logger.error("policy %s: decision rejected (%s); intact splits stay, new and "
                                  "broken pairs get shortest paths", self.policy.name, verdict.summary())
            else:
                self.logger.warning("policy %s: %s; those pairs get the fallback's paths",
                                    self.policy.name, verdict.summary())
                self.decided_by = (self.policy.name, f"for some pairs: {verdict.summary()}")
        return verdict.splits

    def _policy_within_deadline(self, graph, pairs, current, demand):
        """The policy's decision, if it comes within decision_timeout and no failure cuts the
        wait short; PolicyAbandoned otherwise, and while an abandoned one still runs (a stuck
        policy is asked nothing more: one abandoned thread at most)."""
        if self.policy_call is not None:
            running = time.monotonic() - self.policy_call.started
            raise PolicyAbandoned("busy", f"its abandoned decision still runs ({running:.1f} s so "
                                  "far); not asked again until it returns")
        finished = hub.Event()
        outcome: dict = {}
        started = time.monotonic()
        # a policy whose history counts periods of time (dote, figret) is told the time
        timed = {"now": self.clock()} if getattr(self.policy, "history_period", 0) > 0 else {}

        def run():
            try:
                outcome["splits"] = tpool.execute(self.policy.decide, graph, pairs, current, demand,
                                                  **timed)
            except Exception as error:  # noqa: BLE001 - handed to the waiting decision
                outcome["error"] = error
            finally:
                finished.set()
                if outcome.get("abandoned"):
                    self.logger.info("policy %s: the abandoned decision returned after %.1f s; "
                                     "discarded", self.policy.name, time.monotonic() - started)
                self.policy_call = None

        self.policy_call = eventlet.spawn(run)
        self.policy_call.started = started
        self.policy_wait, self.wait_cut_short = finished, ""
        try:
            finished.wait(timeout=self.settings.decision_timeout)
        finally:
            self.policy_wait = None
        if "splits" in outcome or "error" in outcome:
            if "error" in outcome:
                raise outcome["error"]
            return outcome["splits"]
        outcome["abandoned"] = True
        waited = time.monotonic() - started
        if self.wait_cut_short:
            raise PolicyAbandoned("failure", f"decision abandoned after {waited * 1000:.0f} ms: "
                                  f"{self.wait_cut_short}")
        raise PolicyAbandoned("deadline", f"no decision within decision_timeout = "
                              f"{self.settings.decision_timeout:g} s")

    def _within_budget(self, decided, current, graph, demand):
        """The churn budget (max_moves, hold_down) applied to a decision, its moves ranked by the
        demand the decision was made on."""
        if not self.settings.max_moves and not self.settings.hold_down:
            return decided
        budgeted = decision_guard.limit_churn(decided, current, graph, demand,
                                              self.moved_at, self.clock(), self.settings.max_moves,
                                              self.settings.hold_down)
        self.status.moves_deferred["hold_down"] += len(budgeted.held)
        self.status.moves_deferred["max_moves"] += len(budgeted.deferred)
        if budgeted.held or budgeted.deferred:
            self.logger.info("churn budget: %d pairs held down, %d moves deferred (max_moves = %d)",
                             len(budgeted.held), len(budgeted.deferred), self.settings.max_moves)
        return budgeted.splits

    def _refused_pairs_fall_back(self, decided, graph):
        """Pairs whose rules a switch refused get the single shortest path (one tunnel, the
        fewest rules), or nothing while they wait for a retry or were given up."""
        if not self.refused.pairs:
            return decided
        refused = [pair for pair in self.refused.pairs if pair in decided]
        single = self.fallback_policy.decide(graph, refused, {})
        return self.refused.adjust(decided, single, self.clock())

    def _after_commit(self, change) -> None:
        """What the switches refused while the plan was under way comes off the record now; the
        pairs moved start their hold-down; refused pairs sent again count as installed."""
        for sent in self.refused_during_plan:
            self.tunnels.record = of_errors.forget_refused(self.tunnels.record, sent)
        self.refused_during_plan = []
        now = self.clock()
        for pair in (*change.rerouted, *change.reweighted):
            self.moved_at[pair] = now
        self.moved_at = {pair: at for pair, at in self.moved_at.items() if pair in self.tunnels.splits}
        self.refused.sent(self.sent_pairs, self.tunnels.epoch)
        self.sent_pairs = set()
        self._show_not_installed()

    def _show_not_installed(self) -> None:
        self.status.not_installed = {
            pair: (f"{known.error}; given up after {known.refusals} refusals" if known.given_up
                   else f"{known.error}; refused {known.refusals}x")
            for pair, known in sorted(self.refused.not_installed().items())}
        self.status.pairs_installed = self._pairs_installed()

    def _pairs_installed(self) -> int:
        """Pairs with a split in the switches: recorded, and no rule of theirs refused since."""
        return sum(1 for pair in self.tunnels.splits if pair not in self.status.not_installed)

    # --- OpenFlow errors ------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPErrorMsg, [HANDSHAKE_DISPATCHER, CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def openflow_error(self, ev):
        """An error from a switch, tied by its xid to what was sent: logged and counted by name;
        a refused rule or group comes off the record (the next plan sends it again) and its
        pairs fall back to fewer tunnels, retried with backoff (see of_errors.RefusedPairs)."""
        msg = ev.msg
        dpid = msg.datapath.id or 0
        type_name, code_name = of_errors.error_names(msg.type, msg.code)
        sent = self.sent_log.lookup(dpid, msg.xid)
        role_error = ha.role_error(msg.type, msg.code)
        if role_error:
            self._role_refused(dpid, role_error, sent, f"{type_name} {code_name}")
            return
        if sent is None:
            header = of_errors.offending_header(msg.data)
            what = f"a message not recorded (xid {msg.xid}{', ' + header if header else ''})"
        else:
            what = f"{sent.text} (xid {msg.xid}, reroute #{sent.epoch})"
        pairs = ", ".join(f"{a}-{b}" for a, b in sent.pairs) if sent and sent.pairs else "none"
        text = f"switch {dpid:016x}: {type_name} {code_name} for {what}; pairs affected: {pairs}"
        self.logger.error("OpenFlow error: %s", text)
        openflow_error_seen(self.status, type_name, code_name, text)
        if sent is None or sent.command == of_errors.DELETE or not sent.key:
            return
        if self.tunnels.pending is not None:
            self.refused_during_plan.append(sent)
        else:
            self.tunnels.record = of_errors.forget_refused(self.tunnels.record, sent)
        error = f"switch {dpid} refused {sent.text}: {type_name} {code_name}"
        if self.refused.refused(sent.pairs, error, sent.epoch, self.clock()):
            self._retry_refused()
        self._show_not_installed()

    def _role_refused(self, dpid, kind, sent, name) -> None:
        """A switch refused our role request as stale, or a write as from a slave: no pair was
        refused, but writes stop at once where a newer master exists. Ryu's LLDP packet-outs
        refused while slave are counted (REST "ha"), logged once per switch."""
        stop, first = self.ha.refused(dpid, kind, ha.is_write_sent(sent))
        if kind == ha.STALE:
            type_name, code_name = name.split(" ", 1)
            openflow_error_seen(self.status, type_name, code_name, f"switch {dpid:016x}: {name}")
        if stop:
            self.logger.error("switch %016x: %s: a newer master exists; sending no more rules",
                              dpid, name)
        elif first:
            self.logger.info("switch %016x: %s (%s; further ones not logged)", dpid, name,
                             "a role request older than one it saw" if kind == ha.STALE else
                             "refused while slave, e.g. ryu.topology's LLDP packet-outs")

    def _retry_refused(self) -> None:
        """A decision for the refused pairs, now or at the earliest retry (one timer at a time)."""
        now = self.clock()
        delay = self.refused.next_retry(now)
        if delay is None:
            return
        if delay <= 0:
            self.request_reroute("refused rules")
        elif self.retry_due is None or self.retry_due <= now or now + delay < self.retry_due:
            self.retry_due = now + delay
            hub.spawn(self._retry_later, delay)

    def _retry_later(self, delay: float) -> None:
        hub.sleep(delay)
        self.retry_due = None
        self.request_reroute("refused rules retry")

    def _send_phases(self, plan: Plan) -> tuple[set[int], set[int]]:
        """Make before break: each phase is applied (barriers) before the next is sent. Returns
        the switches sent anything, and those that did not confirm a phase within
        ``barrier_timeout`` (empty: the whole plan went). The phases after a silent switch's
        are not sent: they may point at what it has not applied."""
        sent_to: set[int] = set()
        for number, phase in enumerate(plan.phases):
            self._send_all(phase)
            sent_to |= Plan.switches(phase)
            if number < len(plan.phases) - 1:
                silent = self.await_barriers(Plan.switches(phase))
                if silent:
                    return sent_to, silent
        return sent_to, set()

    def _abort_plan(self, sent_to: set[int], silent: set[int]) -> None:
        """A plan stopped after a phase some switch did not confirm: the switches it reached
        are read back, and the decision after their read-back goes on from what they hold.
        Until then decisions wait (the periodic resync check gives up a switch that never
        answers after resync_timeout, as it does a reconnecting one)."""
        # what the switches refused meanwhile is theirs: the read-back says what they hold
        self.refused_during_plan, self.sent_pairs = [], set()
        self.tunnels.abort(sent_to)
        self.metrics.plans_aborted.inc()
        self.logger.error(
            "reroute #%d stopped: no barrier reply within %g s from switch %s; the rest of the "
            "plan is not sent, the %d switches it reached are read back and the next decision "
            "goes on from what they hold", self.tunnels.epoch, self.settings.barrier_timeout,
            ", ".join(f"{dpid:016x}" for dpid in sorted(silent)), len(sent_to))
        self._read_back_unsure()
        self._show_not_installed()

    def _read_back_unsure(self) -> None:
        """Read again what the last plan left unsure (see InstalledTunnels.reread)."""
        for dpid in self.tunnels.reread:
            if dpid in self.datapaths:
                self._read_back(self.datapaths[dpid])

    def _record(self, reason: str, triggers: Sequence[str], change: Change, decided_in: float,
                elapsed: float) -> None:
        self.status.rerouted(triggers, len(change.rerouted), len(change.reweighted),
                             self._pairs_installed(), len(self.tunnels.labels))
        self.metrics.decision_seconds.observe(decided_in)
        self.metrics.install_seconds.observe(elapsed - decided_in)
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

    def await_barriers(self, dpids, timeout_s: float | None = None) -> set[int]:
        """Wait until each switch has applied what it was sent (OpenFlow barrier), so that no
        bucket points at a tunnel whose downstream rules are not in place yet. All
        switches are asked at once: the wait is the slowest reply, not the sum of them.
        Returns the connected switches that did not answer within `timeout_s` (default
        ``barrier_timeout``); a switch that disconnected or reconnected meanwhile is read back
        when it is connected again, so it is not among them."""
        timeout_s = self.settings.barrier_timeout if timeout_s is None else timeout_s
        waiters = {dpid: hub.spawn(self._await_barrier, dpid, timeout_s) for dpid in sorted(dpids)
                   if dpid in self.datapaths}
        hub.joinall(list(waiters.values()))
        return {dpid for dpid, waiter in waiters.items() if waiter.wait() is False
                and dpid in self.datapaths and dpid not in self.tunnels.wiped}

    def _await_barrier(self, dpid, timeout_s) -> bool:
        datapath = self.datapaths.get(dpid)
        if datapath is None:
            return True
        request = ofmsgs.barrier_request()
        request.datapath = datapath
        try:
            with hub.Timeout(timeout_s):
                ofctl_api.send_msg(self, request, reply_cls=datapath.ofproto_parser.OFPBarrierReply)
        except (hub.Timeout, Exception) as error:  # noqa: BLE001 - never stall routing
            self.logger.warning("no barrier reply from %016x (%r)", dpid, error)
            return False
        return True

    def send(self, datapath, message):
        """Send, and remember under its xid what the message was (an error names only that).
        Writes (rules, groups, meters, packets) go only while master (see controller.ha)."""
        if self.ha.withhold(message):
            return
        message.datapath = datapath
        datapath.send_msg(message)
        if message.xid is None:
            return
        pending = self.tunnels.pending or self.tunnels.record
        if self._labels_seen[0] is not pending.labels:
            self._labels_seen = (pending.labels, {label: path for path, label in pending.labels.items()})
        sent = of_errors.describe_sent(datapath.id, message, self._labels_seen[1], pending.splits,
                                       self.tunnels.epoch, self.tunnels.names.egress)
        self.sent_log.record(datapath.id, message.xid, sent)
        if sent.command in (of_errors.ADD, of_errors.MODIFY):
            self.sent_pairs.update(sent.pairs)

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
        out = self.out_of_graph()
        graph = self.routing_graph(out)
        missing = [dpid for dpid in pair if dpid not in graph]
        if missing:
            raise UnknownPair(f"switch {missing[0]} is not connected")
        split = parse_pin(pair, body, graph, out)
        self.pins.pin(pair, split)
        self.request_reroute(f"pin {pair[0]}-{pair[1]}")
        return split

    def unpin(self, pair) -> bool:
        removed = self.pins.unpin(pair)
        if removed:
            self.released.add(pair)
            self.request_reroute(f"unpin {pair[0]}-{pair[1]}")
        return removed

    def routing_graph(self, out=None):
        """The live graph the policies decide on: the drained links left out (``out``: the
        cables to leave out, default those of :meth:`out_of_graph` now)."""
        return self.drained.routing_graph(self.state.graph(),
                                          self.out_of_graph() if out is None else out)

    def out_of_graph(self, drained_cables=None) -> frozenset:
        """The drained cables (``drained_cables``, default the drained ones now) left out of
        the routing graph: all but those a failure made the only way between some switches
        (those are logged when they change)."""
        cables = set(self.drained.cables if drained_cables is None else drained_cables)
        carrying = self.drained.carrying(self.state.links, self.state.switches, cables)
        if carrying != self.drained_carrying:
            if carrying:
                self.logger.warning("drained link(s) %s carry traffic again: without them some "
                                    "switches could not reach one another",
                                    ", ".join(f"{a}-{b}" for a, b in sorted(carrying)))
            else:
                self.logger.warning("no drained link carries traffic any more")
            self.drained_carrying = carrying
        return frozenset(cables - carrying)

    # --- the control API (controller.rest) --------------------------------------------------
    def switch_policy(self, body) -> dict:
        """Switch the policy, checkpoint or split (REST ``PUT /qroute/v1/policy``), built as at
        start-up; ControlError (the old policy kept) for a bad request or a checkpoint that
        cannot be used. Asks for a decision by the new policy; returns the policy view."""
        # one switch at a time, each derived from the settings the one before left: two at
        # once would both start from the same settings, and the later would undo the earlier
        with self.policy_switch_lock:
            settings = switched_settings(body, self.settings)
            policy, fallback, problem = tpool.execute(make_policy, settings, self.logger)
            if problem:
                raise ControlError(problem)
            with self.route_lock:  # not while a decision runs with the old one
                self.settings, self.policy, self.fallback_policy = settings, policy, fallback
                self.status.policy_problem = ""
            self.logger.warning("operator: policy now %s", policy.description)
            self.request_reroute(f"operator policy {policy.name}")
            return self.policy_view()

    def policy_view(self) -> dict:
        return {"policy": self.policy.description, "policy_name": self.policy.name,
                "checkpoint": self.checkpoint_in_use(), "split": bool(getattr(self.policy, "split", False)),
                "policy_problem": self.status.policy_problem}

    def checkpoint_in_use(self) -> str:
        if getattr(self.policy, "loaded", None) is None:
            return ""
        return default_checkpoint(self.settings)

    def reoptimize(self) -> None:
        self.request_reroute("operator reoptimize")

    def drain(self, link) -> bool:
        """Take a link (both directions) out of the routing graph and ask for the decision
        that moves its traffic; DrainError for an unknown link or one whose loss would cut the
        network. Returns whether it was not drained before."""
        changed = self.drained.drain(link, self.state.links, self.state.switches)
        if changed:
            self.logger.warning("operator: link %d-%d drained", *link)
            self.save_state()
            self.request_reroute(f"operator drain {link[0]}-{link[1]}")
        return changed

    def undrain(self, link) -> bool:
        changed = self.drained.undrain(link, self.state.links)
        if changed:
            self.logger.warning("operator: link %d-%d undrained", *link)
            self.save_state()
            self.request_reroute(f"operator undrain {link[0]}-{link[1]}")
        return changed

    def topology(self) -> dict:
        """The REST topology view (see :func:`controller.topology_view.topology_view`)."""
        return topology_view(self.settings.topology, self.nodes, self.state, self.drained,
                             self.measured_mlu(), self.policy_view(), self.settings.stats_interval)

    def describe(self) -> dict:
        """The REST view (see :func:`controller.rest.describe`)."""
        rerouting = bool(self.pending_reasons or self.held_reasons) or self.route_lock.locked()
        view = describe(self.state, self.tunnels, self.pair_rates, self.policy, self.status,
                        rerouting, self.settings)
        view["edge"] = {**self.edge.describe(), **self.packet_in_budget.describe(self.clock()),
                        **self.dpid_registry.describe()}
        view["resync"] = self.resync_view()
        view["ha"] = self.ha.describe()
        carrying = self.drained.carrying(self.state.links, self.state.switches)
        for link in view["links"]:
            link["drained"] = self.drained.is_drained((link["src"], link["dst"]))
            link["carrying"] = cable((link["src"], link["dst"])) in carrying
        view["drained"] = self.drained.describe()
        view["decision_log_problem"] = self.decisions.problem
        return view
