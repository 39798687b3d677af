"""The metrics for Grafana: what the collectors export from a state built here (scraped as
Prometheus would, through the text exposition, and parsed back), what the app feeds them from
its handlers, metrics_bind, and the monitoring/ files (the dashboard queries only series the
controller exports; the scrape config targets the port the documentation names)."""
from __future__ import annotations

import json
import logging
import pathlib
import re
import socket
from types import SimpleNamespace

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import controller.app as app_module
from controller import ryu_options
from controller.metrics import ControllerMetrics, exposure_warning
from controller.netstate import NetworkState
from controller.rest import ControllerStatus
from controller.settings import SettingsError, parse_settings
from tests.fakes import HOST_PORT, NEXT_PORT, FakeNetwork, ipv4_frame

REPO = pathlib.Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "monitoring" / "grafana-dashboard.json"
PROMETHEUS_CONFIG = REPO / "monitoring" / "prometheus.yml"
CONF_EXAMPLE = REPO / "controller" / "qroute.conf.example"
# PromQL's functions, aggregations and keywords are lower case words too; qroute's series are
# the words with its prefix
SERIES_NAME = re.compile(r"\bqroute_[a-zA-Z0-9_:]+")


def scraped(registry) -> dict[str, dict[tuple, float]]:
    """sample name -> {sorted labels: value}, from the text Prometheus would scrape."""
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def network(links_loads: dict, splits: dict | None = None, switches=(1, 2, 3, 4)):
    """A controller-shaped object: a NetworkState with the links (10 Mbit/s each) and measured
    loads given, the installed splits, a connection per switch."""
    state = NetworkState(default_capacity_bps=10e6)
    for dpid in switches:
        state.add_switch(dpid)
    for port, ((src, dst), load) in enumerate(sorted(links_loads.items()), start=10):
        state.add_link(src, dst, port, port + 100)
        if load is not None:
            state.set_load((src, dst), load)
    return SimpleNamespace(state=state, tunnels=SimpleNamespace(splits=dict(splits or {})),
                           datapaths={dpid: object() for dpid in switches})


def metrics_of(controller) -> ControllerMetrics:
    metrics = ControllerMetrics(ControllerStatus())
    metrics.watch_network(controller)
    return metrics


# --- the collectors ------------------------------------------------------------------------
def test_the_mlu_is_the_highest_measured_utilisation_over_the_links_there_now():
    controller = network({(1, 2): 2.5e6, (2, 1): 0.0, (2, 3): 7.5e6, (3, 4): None})
    metrics = metrics_of(controller)
    assert scraped(metrics.registry)["qroute_mlu"] == {(): 0.75}
    controller.state.remove_link(2, 3)  # the loaded link failed
    assert scraped(metrics.registry)["qroute_mlu"] == {(): 0.25}


def test_no_mlu_sample_before_any_load_is_measured():
    metrics = metrics_of(network({(1, 2): None, (2, 1): None}))
    assert "qroute_mlu" not in scraped(metrics.registry)


def test_every_installed_tunnel_has_its_weight_and_a_removed_pair_leaves_no_series():
    splits = {(1, 3): (((1, 2, 3), 0.6), ((1, 4, 3), 0.4)), (3, 1): (((3, 2, 1), 1.0),)}
    controller = network({}, splits)
    metrics = metrics_of(controller)
    weight = lambda src, dst, path: (("dst", dst), ("path", path), ("src", src))  # noqa: E731
    assert scraped(metrics.registry)["qroute_tunnel_weight"] == {
        weight("1", "3", "1-2-3"): 0.6, weight("1", "3", "1-4-3"): 0.4, weight("3", "1", "3-2-1"): 1.0}
    controller.tunnels.splits = {(3, 1): (((3, 4, 1), 1.0),)}  # (1, 3) gone, (3, 1) rerouted
    assert scraped(metrics.registry)["qroute_tunnel_weight"] == {weight("3", "1", "3-4-1"): 1.0}


def test_switches_connected_is_read_when_scraped():
    controller = network({}, switches=(1, 2, 3))
    metrics = metrics_of(controller)
    assert scraped(metrics.registry)["qroute_switches_connected"] == {(): 3}
    del controller.datapaths[2]
    assert scraped(metrics.registry)["qroute_switches_connected"] == {(): 2}


def test_decision_times_from_a_millisecond_to_seconds_fall_in_distinct_buckets():
    metrics = ControllerMetrics(ControllerStatus())
    for seconds in (0.0008, 0.0015, 0.004, 0.3, 1.5):
        metrics.decision_seconds.observe(seconds)
    buckets = {dict(labels)["le"]: count for labels, count in
               scraped(metrics.registry)["qroute_decision_seconds_bucket"].items()}
    assert (buckets["0.001"], buckets["0.002"], buckets["0.005"]) == (1, 2, 3)
    assert (buckets["0.2"], buckets["0.5"], buckets["1.0"], buckets["2.0"]) == (3, 4, 4, 5)
    assert scraped(metrics.registry)["qroute_install_seconds_count"] == {(): 0}


def test_packet_ins_are_counted_by_their_openflow_reason_each_series_there_from_the_start():
    metrics = ControllerMetrics(ControllerStatus())
    assert scraped(metrics.registry)["qroute_packet_ins_total"] == {
        (("reason", "no_match"),): 0, (("reason", "action"),): 0, (("reason", "invalid_ttl"),): 0}
    for reason in (0, 0, 1, 7):  # OFPR_NO_MATCH twice, OFPR_ACTION, a reason OpenFlow 1.3 lacks
        metrics.packet_in(reason)
    assert scraped(metrics.registry)["qroute_packet_ins_total"] == {
        (("reason", "no_match"),): 2, (("reason", "action"),): 1, (("reason", "invalid_ttl"),): 0,
        (("reason", "other"),): 1}


# --- metrics_bind --------------------------------------------------------------------------
@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0", "::1", "::", "192.0.2.7"])
def test_metrics_bind_takes_an_ip_address(bind):
    assert parse_settings({"metrics_bind": bind}).metrics_bind == bind


@pytest.mark.parametrize("bind", ["localhost", "127.0.0.1:9180", "256.0.0.1", "", "*"])
def test_metrics_bind_refuses_what_is_not_an_ip_address(bind):
    with pytest.raises(SettingsError, match=r"metrics_bind = .*must be an IP address"):
        parse_settings({"metrics_bind": bind})


@pytest.mark.parametrize("bind, exposed", [("127.0.0.1", False), ("127.0.0.53", False),
                                           ("::1", False), ("0.0.0.0", True), ("::", True),
                                           ("192.0.2.7", True)])
def test_only_an_address_beyond_loopback_gets_the_exposure_warning(bind, exposed):
    warning = exposure_warning(bind, 9180)
    assert bool(warning) is exposed
    if exposed:
        assert f"{bind}:9180" in warning and "on purpose" in warning


# --- the app feeds them ----------------------------------------------------------------------
class _Wsgi:
    def register(self, controller, data):
        pass


@pytest.fixture
def quiet_app(monkeypatch, tmp_path):
    """An app built outside ryu-manager with the config given: nothing spawned, decisions and
    barriers inline; a clock the test moves."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(app_module.hub, "spawn", lambda *args, **kw: None)
    monkeypatch.setattr(app_module.tpool, "execute", lambda fn, *a, **kw: fn(*a, **kw))
    monkeypatch.setattr(app_module.QRouteController, "await_barriers",
                        lambda self, dpids, timeout_s=1.0: None)
    clock = SimpleNamespace(now=1000.0)

    def build(conf_text="[qroute]\n"):
        conf = tmp_path / "q.conf"
        conf.write_text(conf_text)
        monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
        app = app_module.QRouteController(wsgi=_Wsgi())
        app.clock = lambda: clock.now
        app.hold.started = clock.now
        return app, clock

    return build


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("bind, family, warned", [("127.0.0.1", socket.AF_INET, False),
                                                  ("0.0.0.0", socket.AF_INET, True),
                                                  ("::1", socket.AF_INET6, False)])
def test_the_metrics_server_listens_on_metrics_bind_and_warns_beyond_loopback(
        quiet_app, monkeypatch, caplog, bind, family, warned):
    listened = []
    monkeypatch.setattr(app_module.eventlet, "listen",
                        lambda address, family, reuse_port: listened.append((address, family)))
    port = _free_port()
    with caplog.at_level(logging.WARNING):
        quiet_app(f"[qroute]\nmetrics_port = {port}\nmetrics_bind = {bind}\n")
    assert listened == [((bind, port), family)]
    warnings = [r.getMessage() for r in caplog.records if "beyond loopback" in r.getMessage()]
    assert len(warnings) == int(warned)


def test_the_app_counts_connections_packet_ins_and_exports_weights_and_mlu(quiet_app):
    app, clock = quiet_app()
    net = FakeNetwork(app, n=5)
    net.start()
    samples = scraped(app.metrics.registry)
    assert samples["qroute_switches_connected"] == {(): 5}
    assert samples["qroute_switch_connects_total"] == {(): 5}
    for n, other in ((1, 3), (3, 1)):  # hosts 1 and 3 send: two packet-ins, one pair each way
        net.packet_in(n, HOST_PORT, ipv4_frame(n, other))
    net.port_stats(1, {NEXT_PORT: 0})
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 1_250_000})  # 5 Mbit/s on s1 -> s2, half its 10 Mbit/s
    samples = scraped(app.metrics.registry)
    assert samples["qroute_packet_ins_total"][(("reason", "no_match"),)] == 2
    assert samples["qroute_tunnel_weight"] == {
        (("dst", "3"), ("path", "1-2-3"), ("src", "1")): 1.0,
        (("dst", "1"), ("path", "3-2-1"), ("src", "3")): 1.0}
    assert samples["qroute_mlu"] == {(): 0.5}
    assert samples["qroute_install_seconds_count"][()] >= 1  # the decisions that installed them
    assert samples["qroute_decision_seconds_count"][()] > samples["qroute_install_seconds_count"][()]
    net.disconnect(3)
    samples = scraped(app.metrics.registry)
    assert samples["qroute_switches_connected"] == {(): 4}
    assert samples["qroute_switch_disconnects_total"] == {(): 1}
    assert "qroute_tunnel_weight" not in samples  # host 3's switch is gone, and its pairs


# --- monitoring/ -----------------------------------------------------------------------------
def dashboard_queries(dashboard: dict) -> list[str]:
    """Every PromQL text of the dashboard: panel targets (rows' panels too) and query variables."""
    queries = []
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        queries += [target["expr"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def queried_series(dashboard: dict) -> set[str]:
    return {name for query in dashboard_queries(dashboard) for name in SERIES_NAME.findall(query)}


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_series_names_are_found_in_promql():
    query = ('histogram_quantile(0.95, sum by (le) (rate(qroute_decision_seconds_bucket{i=~"$i"}'
             '[$__rate_interval]))) / ignoring(x) qroute_mlu')
    assert SERIES_NAME.findall(query) == ["qroute_decision_seconds_bucket", "qroute_mlu"]


def test_the_dashboard_is_an_importable_grafana_dashboard(dashboard):
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["title"] and dashboard["uid"]
    panels = dashboard["panels"]
    assert len(panels) >= 8
    assert len({panel["id"] for panel in panels}) == len(panels)
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    cells = set()
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(target["expr"] for target in panel["targets"]), panel["title"]
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]  # Grafana's grid is 24 wide
        covered = {(x, y) for x in range(box["x"], box["x"] + box["w"])
                   for y in range(box["y"], box["y"] + box["h"])}
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
        # each $variable a query uses is defined (Grafana's own $__ variables aside)
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval", "__interval"}
            assert used <= set(variables), (panel["title"], used - set(variables))


def test_the_dashboard_shows_what_the_issue_asks_for(dashboard):
    """MLU over time, link utilisation per link, decision latency p50/p95 from the histogram,
    reroutes by trigger, packet-in rate, switches connected, tunnels and pairs installed, the
    per-tunnel weights."""
    queries = dashboard_queries(dashboard)
    assert any(query.startswith("qroute_mlu") for query in queries)
    assert any(query.startswith("qroute_link_utilisation") for query in queries)
    for quantile in ("0.5", "0.95"):
        assert any(re.search(rf"histogram_quantile\({quantile}, .*qroute_decision_seconds_bucket", query)
                   for query in queries), quantile
    assert any("by (trigger)" in query and "qroute_reroutes_total" in query for query in queries)
    assert any(re.search(r"rate\(qroute_packet_ins_total", query) for query in queries)
    assert {"qroute_switches_connected", "qroute_tunnels_installed", "qroute_pairs_installed",
            "qroute_tunnel_weight"} <= queried_series(dashboard)


def test_every_series_the_dashboard_queries_is_exported_by_the_app(dashboard, quiet_app):
    """The app driven by fake switches (its handlers feed the metrics as under ryu-manager),
    scraped: each series the dashboard queries is there. The Mininet tier checks the same on a
    real controller's /metrics (tests/test_monitoring_mininet.py)."""
    app, clock = quiet_app()
    net = FakeNetwork(app, n=5)
    net.start()
    for n, other in ((1, 3), (3, 1)):
        net.packet_in(n, HOST_PORT, ipv4_frame(n, other))
    net.port_stats(1, {NEXT_PORT: 0})
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 1_250_000})
    missing = queried_series(dashboard) - set(scraped(app.metrics.registry))
    assert not missing, f"the dashboard queries series the controller does not export: {missing}"


def test_the_scrape_config_targets_the_metrics_port_the_configuration_names():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["qroute"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert len(targets) == 1
    host, port = targets[0].rsplit(":", 1)
    assert host == parse_settings({}).metrics_bind  # where the controller serves by default
    assert parse_settings({"metrics_port": port}).metrics_port == int(port)
    assert int(port) not in (6633, 6653, 8080)  # ryu's OpenFlow and REST ports
    # the configuration's documentation tells the operator to set that port
    assert re.search(rf"scrapes 127\.0\.0\.1:{port}: set {port}", CONF_EXAMPLE.read_text())
    interval = config["global"]["scrape_interval"]
    assert re.fullmatch(r"\d+s", interval)


def test_the_fallbacks_counts_are_there_at_zero_for_every_known_why_and_reason():
    status = ControllerStatus()
    status.decisions_abandoned["deadline"] += 2
    samples = scraped(ControllerMetrics(status).registry)
    assert samples["qroute_decisions_abandoned_total"] == {
        (("why", "busy"),): 0, (("why", "deadline"),): 2, (("why", "failure"),): 0}
    rejected = samples["qroute_decisions_rejected_total"]
    assert {dict(labels)["reason"] for labels in rejected} >= {"worse_mlu", "broken_path",
                                                               "missing_pair"}
    assert set(rejected.values()) == {0}
