"""ControllerStatus: the controller's counts, held once and exported to Prometheus from there."""
from __future__ import annotations

from prometheus_client import generate_latest

from controller.metrics import ControllerMetrics
from controller.rest import ControllerStatus


def test_a_decision_counts_once_under_each_kind_of_reason_it_answers():
    status = ControllerStatus()
    status.rerouted(["host 00:00:00:00:00:01 seen", "host 00:00:00:00:00:02 seen", "link 1-2 down"],
                    rerouted=2, reweighted=1, pairs_installed=6, tunnels_installed=9)
    status.rerouted(["periodic"], rerouted=1, reweighted=4, pairs_installed=4, tunnels_installed=7)
    assert (status.reroutes, status.pairs_rerouted, status.pairs_reweighted) == (2, 3, 5)
    assert (status.pairs_installed, status.tunnels_installed) == (4, 7)  # the latest, not summed
    assert dict(status.reroutes_by_trigger) == {"host": 1, "link": 1, "periodic": 1}


def test_prometheus_reads_the_counts_from_the_status():
    status = ControllerStatus()
    metrics = ControllerMetrics(status)

    def sample(name, **labels):
        return metrics.registry.get_sample_value(name, labels)

    assert sample("qroute_reroutes_total", trigger="host") is None  # nothing counted yet
    assert (sample("qroute_pairs_rerouted_total"), sample("qroute_policy_failures_total")) == (0, 0)
    status.rerouted(["host 00:00:00:00:00:01 seen", "periodic"], rerouted=3, reweighted=2,
                    pairs_installed=2, tunnels_installed=5)
    status.policy_failed("reroute #2 (periodic): RuntimeError('boom')")
    assert sample("qroute_reroutes_total", trigger="host") == 1
    assert sample("qroute_reroutes_total", trigger="periodic") == 1
    assert sample("qroute_pairs_rerouted_total") == 3 and sample("qroute_pairs_reweighted_total") == 2
    assert sample("qroute_pairs_installed") == 2 and sample("qroute_tunnels_installed") == 5
    assert sample("qroute_policy_failures_total") == 1
    # every counter says since when it counts, as prometheus_client's own Counter does
    for name, labels in (("qroute_reroutes_created", {"trigger": "host"}),
                         ("qroute_pairs_rerouted_created", {}), ("qroute_policy_failures_created", {})):
        assert metrics.registry.get_sample_value(name, labels) > 1.7e9, name  # a Unix time
    exported = generate_latest(metrics.registry).decode()
    assert "# TYPE qroute_reroutes_total counter" in exported
    assert 'qroute_reroutes_total{trigger="host"} 1.0' in exported
