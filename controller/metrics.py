"""Prometheus metrics of the controller, served on 127.0.0.1:<[qroute] metrics_port>.

Link loads and decision times are observed as they happen; the counts (reroutes, pairs
rerouted and reweighted, policy failures, pairs and tunnels installed) are read from the
controller's `ControllerStatus` when the metrics are scraped, so that they are kept in one place.
"""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class _StatusCollector:
    def __init__(self, status):
        self.status = status
        self.created = time.time()  # the counts start at 0 with the controller (``*_created``)

    def collect(self):
        status, created = self.status, self.created
        reroutes = CounterMetricFamily(
            "qroute_reroutes",
            "route recomputations that changed rules, by what asked for them (one that answers "
            "several kinds counts once under each; qroute_decision_seconds_count counts decisions)",
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
        yield GaugeMetricFamily("qroute_pairs_installed", "switch pairs with an installed split",
                                value=status.pairs_installed)
        yield GaugeMetricFamily("qroute_tunnels_installed", "tunnels in the switches",
                                value=status.tunnels_installed)


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
            "qroute_decision_seconds", "time to compute and plan one routing decision",
            registry=self.registry, buckets=(.001, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5))
        self.read_backs = Counter(
            "qroute_switch_read_backs",
            "read-backs of a (re)connecting switch's rules and groups, by outcome (read back, or "
            "failed: no complete reply within resync_timeout, taken as holding nothing)",
            ["outcome"], registry=self.registry)
        self.stale_entries_deleted = Counter(
            "qroute_stale_entries_deleted",
            "qroute-cookied rules and groups read back of no kind qroute installs, deleted",
            registry=self.registry)

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
