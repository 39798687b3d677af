"""Prometheus metrics of the controller, served on <[qroute] metrics_bind>:<metrics_port>.

Link loads, decision and install times, packet-ins and switch (dis)connections are observed as
they happen; the counts (reroutes, pairs rerouted and reweighted, policy failures, pairs and
tunnels installed) are read from the controller's `ControllerStatus`, and the network's measured
maximum link utilisation, each tunnel's split weight and the switches connected from the
controller itself, when the metrics are scraped: they are kept in one place, and a tunnel or
link that is gone leaves no series behind.
"""
from __future__ import annotations

import ipaddress
import socket
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from controller.decision_guard import REASONS as REJECTION_REASONS

# why a policy's decision was abandoned (see controller.app.PolicyAbandoned)
ABANDONED_WHYS = ("busy", "deadline", "failure")


def _with_zeros(counts, known) -> list:
    """The counts by label value, every known value there (at 0 until counted): a series that
    exists from the start is one a dashboard's rate() and increase() can read."""
    return sorted({**dict.fromkeys(known, 0), **counts}.items())


class _StatusCollector:
    def __init__(self, status):
        self.status = status
        self.created = time.time()  # the counts start at 0 with the controller (``*_created``)

    def collect(self):
        status, created = self.status, self.created
        reroutes = CounterMetricFamily(
            "qroute_reroutes",
            "route recomputations that changed rules, by what asked for them (one that answers "
            "several kinds counts once under each; qroute_decision_seconds_count counts every "
            "decision, also those that changed nothing)",
            labels=["trigger"])
        for trigger, count in sorted(status.reroutes_by_trigger.items()):
            reroutes.add_metric([trigger], count, created=created)
        yield reroutes
        yield CounterMetricFamily("qroute_pairs_rerouted", "switch pairs whose set of paths changed",
                                  value=status.pairs_rerouted, created=created)
        yield CounterMetricFamily("qroute_pairs_reweighted",
                                  "switch pairs whose split weights alone changed",
                                  value=status.pairs_reweighted, created=created)
        yield CounterMetricFamily(
            "qroute_policy_failures",
            "learned decisions that raised (intact paths kept, the rest by shortest path)",
            value=status.policy_failures, created=created)
        abandoned = CounterMetricFamily(
            "qroute_decisions_abandoned",
            "policy decisions not waited for, by why: deadline (decision_timeout passed), failure "
            "(a link or switch failed meanwhile), busy (an abandoned one still runs); the fallback decided",
            labels=["why"])
        for why, count in _with_zeros(status.decisions_abandoned, ABANDONED_WHYS):
            abandoned.add_metric([why], count, created=created)
        yield abandoned
        rejected = CounterMetricFamily(
            "qroute_decisions_rejected",
            "policy decisions the guard replaced by the fallback, by reason (missing_pair: pairs "
            "filled in by the fallback, the rest of the decision kept)", labels=["reason"])
        for reason, count in _with_zeros(status.decisions_rejected, REJECTION_REASONS):
            rejected.add_metric([reason], count, created=created)
        yield rejected
        deferred = CounterMetricFamily(
            "qroute_moves_deferred", "pair moves left for later by the churn budget, by rule",
            labels=["rule"])
        for rule, count in sorted(status.moves_deferred.items()):
            deferred.add_metric([rule], count, created=created)
        yield deferred
        errors = CounterMetricFamily(
            "qroute_openflow_errors", "OpenFlow error messages from the switches, by type and code",
            labels=["type", "code"])
        for (error_type, code), count in sorted(status.openflow_errors.items()):
            errors.add_metric([error_type, code], count, created=created)
        yield errors
        yield GaugeMetricFamily("qroute_pairs_not_installed",
                                "switch pairs whose rules a switch refused (see the REST pairs)",
                                value=len(status.not_installed))
        yield GaugeMetricFamily("qroute_pairs_installed", "switch pairs with an installed split",
                                value=status.pairs_installed)
        yield GaugeMetricFamily("qroute_tunnels_installed", "tunnels in the switches",
                                value=status.tunnels_installed)


class EdgeCollector:
    """What the edge refused: hosts (by reason), ports blocked for flooding the controller,
    second connections for a connected dpid."""

    def __init__(self, edge, packet_in_budget, dpid_registry):
        self.edge, self.budget, self.registry = edge, packet_in_budget, dpid_registry
        self.created = time.time()

    def collect(self):
        refused = CounterMetricFamily(
            "qroute_hosts_refused",
            "sources not learned as hosts, by reason (port_limit, host_limit, claims_limit, "
            "move_answered, ip_claim_answered; each source counted once per 30 s)",
            labels=["reason"])
        for reason, count in sorted(self.edge.refused_total.items()):
            refused.add_metric([reason], count, created=self.created)
        yield refused
        yield CounterMetricFamily(
            "qroute_ports_blocked", "edge ports whose packet-ins were dropped in the switch "
            "for going over packet_in_port_budget", value=self.budget.blocks_total,
            created=self.created)
        yield CounterMetricFamily(
            "qroute_dpid_takeovers_refused",
            "second OpenFlow connections refused for a dpid whose first connection answers echo",
            value=self.registry.refused_total, created=self.created)


class _RoleCollector:
    """The controller's OpenFlow role (controller.ha) and the terms it won as master."""

    ROLES = ("equal", "master", "slave")

    def __init__(self, high_availability):
        self.ha = high_availability
        self.created = time.time()

    def collect(self):
        role = GaugeMetricFamily("qroute_controller_role",
                                 "1 for this controller's OpenFlow role (equal without high "
                                 "availability, else master or slave), 0 for the others",
                                 labels=["role"])
        current = self.ha.role.name()
        for name in self.ROLES:
            role.add_metric([name], 1.0 if name == current else 0.0)
        yield role
        yield CounterMetricFamily("qroute_master_terms_won",
                                  "etcd terms this controller won (became master)",
                                  value=self.ha.terms_won, created=self.created)


def measured_mlu(state) -> float | None:
    """The highest measured utilisation (port statistics) over the links the network has now,
    or None before any link's load is measured."""
    measured = [state.utilisation(link) for link in state.load_bps if link in state.links]
    return max(measured) if measured else None


def path_label(path) -> str:
    return "-".join(str(dpid) for dpid in path)


class NetworkCollector:
    """What the controller holds when scraped: the measured maximum link utilisation, the split
    weight of every installed tunnel, the switches connected (``controller``: an object with
    ``state``, a `NetworkState`; ``tunnels``, with the installed ``splits``; ``datapaths``)."""

    def __init__(self, controller):
        self.controller = controller

    def collect(self):
        controller = self.controller
        mlu = GaugeMetricFamily("qroute_mlu", "maximum link utilisation: the highest measured "
                                "load / capacity over the directed links (no sample before a "
                                "load is measured)")
        highest = measured_mlu(controller.state)
        if highest is not None:
            mlu.add_metric([], highest)
        yield mlu
        weights = GaugeMetricFamily(
            "qroute_tunnel_weight", "share of a switch pair's traffic split onto one of its "
            "installed tunnels (path: the dpids from ingress to egress)",
            labels=["src", "dst", "path"])
        for (src, dst), split in sorted(controller.tunnels.splits.items()):
            for path, weight in split:
                weights.add_metric([str(src), str(dst), path_label(path)], weight)
        yield weights
        yield GaugeMetricFamily("qroute_switches_connected",
                                "switches with an OpenFlow connection to this controller",
                                value=len(controller.datapaths))


# The reasons of OpenFlow 1.3's packet-in (ofp_packet_in_reason), as label values
PACKET_IN_REASONS = {0: "no_match", 1: "action", 2: "invalid_ttl"}
# from 1 ms to 5 s in 1-2-5 steps: a shortest-path decision takes about a millisecond, an LP or
# a learned one on a larger network up to seconds (decision_timeout's default is 3 s)
SECONDS_BUCKETS = (.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5)


def listen_family(bind: str) -> int:
    """The socket family of an address that metrics_bind accepted."""
    return socket.AF_INET6 if ipaddress.ip_address(bind).version == 6 else socket.AF_INET


def exposure_warning(bind: str, port: int) -> str:
    """What to log when the metrics are served beyond loopback ("" when they are not)."""
    if ipaddress.ip_address(bind).is_loopback:
        return ""
    return (f"metrics served on {bind}:{port} (metrics_bind), beyond loopback on purpose: "
            f"whoever reaches that address can read them (no authentication)")


class ControllerMetrics:
    def __init__(self, status):
        self.registry = CollectorRegistry()
        self.registry.register(_StatusCollector(status))
        self.link_utilisation = Gauge(
            "qroute_link_utilisation", "measured load / capacity of a directed link",
            ["src", "dst"], registry=self.registry)
        self.link_load = Gauge(
            "qroute_link_load_bits_per_second", "measured load of a directed link",
            ["src", "dst"], registry=self.registry)
        self.decision_seconds = Histogram(
            "qroute_decision_seconds", "time to compute and plan one routing decision (every "
            "decision, also those that changed nothing)",
            registry=self.registry, buckets=SECONDS_BUCKETS)
        self.install_seconds = Histogram(
            "qroute_install_seconds", "time to install a decision that changed rules: every "
            "phase sent and its barriers answered", registry=self.registry,
            buckets=SECONDS_BUCKETS)
        self.plans_aborted = Counter(
            "qroute_plans_aborted", "decisions whose plan stopped part way: a switch did not "
            "confirm a phase within barrier_timeout (the switches reached are read back)",
            registry=self.registry)
        self.reoptimisations_skipped = Counter(
            "qroute_reoptimisations_skipped", "periodic re-optimisations not run because no link's "
            "measured utilisation reached reoptimize_above", registry=self.registry)
        self.packet_ins = Counter(
            "qroute_packet_ins", "packet-ins from the switches, by OpenFlow reason (no_match: "
            "a table-miss rule sent it; action: a rule's output to the controller)",
            ["reason"], registry=self.registry)
        for reason in PACKET_IN_REASONS.values():
            self.packet_ins.labels(reason)  # every series there at 0 from the start
        self.switch_connects = Counter(
            "qroute_switch_connects", "OpenFlow connections of switches that completed the "
            "handshake (a reconnect counts again)", registry=self.registry)
        self.switch_disconnects = Counter(
            "qroute_switch_disconnects", "switch connections that ended", registry=self.registry)
        self.read_backs = Counter(
            "qroute_switch_read_backs",
            "read-backs of a (re)connecting switch's rules and groups, by outcome (read back, or "
            "failed: no complete reply within resync_timeout, taken as holding nothing)",
            ["outcome"], registry=self.registry)
        self.stale_entries_deleted = Counter(
            "qroute_stale_entries_deleted",
            "qroute-cookied rules and groups read back of no kind qroute installs, deleted",
            registry=self.registry)

    def watch_role(self, high_availability) -> None:
        self.registry.register(_RoleCollector(high_availability))

    def watch_network(self, controller) -> None:
        """Read the MLU, the tunnels' weights and the switches connected from `controller`
        when scraped (see :class:`NetworkCollector`)."""
        self.registry.register(NetworkCollector(controller))

    def packet_in(self, reason: int) -> None:
        self.packet_ins.labels(PACKET_IN_REASONS.get(reason, "other")).inc()

    def wsgi_app(self):
        # Served by the controller's own eventlet WSGI server: prometheus_client's threaded
        # server calls getaddrinfo with arguments eventlet's green DNS does not take.
        return make_wsgi_app(self.registry)

    def observe_link(self, link, load_bps: float, utilisation: float) -> None:
        labels = (str(link[0]), str(link[1]))
        self.link_load.labels(*labels).set(load_bps)
        self.link_utilisation.labels(*labels).set(utilisation)

    def forget_link(self, link) -> None:
        labels = (str(link[0]), str(link[1]))
        for gauge in (self.link_load, self.link_utilisation):
            try:
                gauge.remove(*labels)
            except KeyError:
                pass
