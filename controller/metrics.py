"""Prometheus metrics of the controller, served on 127.0.0.1:<[qroute] metrics_port>."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app


class ControllerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.link_utilisation = Gauge(
            "qroute_link_utilisation", "measured load / capacity of a directed link",
            ["src", "dst"], registry=self.registry)
        self.link_load = Gauge(
            "qroute_link_load_bits_per_second", "measured load of a directed link",
            ["src", "dst"], registry=self.registry)
        self.flows = Gauge("qroute_flows_installed", "host-pair flows with installed paths",
                           registry=self.registry)
        self.reroutes = Counter(
            "qroute_reroutes_total",
            "route recomputations that changed rules, by what asked for them (one that answers "
            "several kinds counts once under each; qroute_decision_seconds_count counts decisions)",
            ["trigger"], registry=self.registry)
        self.flows_moved = Counter("qroute_flows_moved_total", "flows moved to another path",
                                   registry=self.registry)
        self.policy_failures = Counter(
            "qroute_policy_failures_total",
            "learned decisions that raised (intact paths kept, the rest by shortest path)",
            registry=self.registry)
        self.decision_seconds = Histogram(
            "qroute_decision_seconds", "time to compute and plan one routing decision",
            registry=self.registry, buckets=(.001, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5))

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
