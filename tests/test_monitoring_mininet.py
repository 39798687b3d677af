"""The Grafana dashboard against a real controller: ryu-manager with Open vSwitch switches and
Mininet hosts, traffic sent, /metrics fetched over HTTP; every series the dashboard queries is
there, and the new series agree with what the network shows. Root only; skipped otherwise
(failing under CI=true, see conftest.py)."""
import json
import time
import urllib.request
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.lab_helpers import lab_module
from tests.test_metrics import DASHBOARD, queried_series

pytestmark = pytest.mark.mininet


@pytest.fixture(scope="module")
def ring(request):
    mininet_lab = lab_module("mininet_lab")
    from mininet.clean import cleanup

    from topologies.mininet_topos import RingTopo

    cleanup()
    lab = mininet_lab.MininetLab(RingTopo(n=4), settings={"metrics_port": mininet_lab.free_port()})
    try:
        lab.start()
        lab.wait_until_ready()
        yield lab
        if request.session.testsfailed:
            print(lab.controller_log()[-3000:])
    except BaseException:
        print(lab.controller_log()[-3000:])
        raise
    finally:
        lab.stop()
        cleanup()


def scrape(lab) -> dict[str, list]:
    url = f"http://127.0.0.1:{lab.settings['metrics_port']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append(sample)
    return samples


def test_every_series_the_dashboard_queries_is_in_a_live_controllers_metrics(ring):
    assert ring.ping_all() == 0.0  # host learning (packet-ins), a tunnel per switch pair
    server = ring.start_iperf3_server("h3", 5311)
    try:
        time.sleep(0.5)
        client = ring.start_iperf3_client("h1", "h3", 5311, seconds=6, udp_mbps=4)
        time.sleep(3.5)  # port statistics every second: rates measured while the load runs
        samples = scrape(ring)
        client.communicate(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=5)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    missing = queried_series(dashboard) - set(samples)
    assert not missing, f"the dashboard queries series the controller does not export: {missing}"

    assert [s.value for s in samples["qroute_switches_connected"]] == [4]
    assert samples["qroute_switch_connects_total"][0].value >= 4
    no_match = [s.value for s in samples["qroute_packet_ins_total"] if s.labels["reason"] == "no_match"]
    assert no_match and no_match[0] > 0
    # one pair each way between the 4 switches' hosts, each pair's weights summing to 1, on
    # paths from its src to its dst
    by_pair = defaultdict(float)
    for sample in samples["qroute_tunnel_weight"]:
        path = [int(dpid) for dpid in sample.labels["path"].split("-")]
        assert (path[0], path[-1]) == (int(sample.labels["src"]), int(sample.labels["dst"]))
        by_pair[path[0], path[-1]] += sample.value
    assert len(by_pair) == 4 * 3 and all(total == pytest.approx(1.0) for total in by_pair.values())
    links = [s.value for s in samples["qroute_link_utilisation"]]
    assert len(links) == 8  # the ring's 4 cables, both ways
    assert samples["qroute_mlu"][0].value == pytest.approx(max(links), rel=0.05, abs=1e-6)
    assert samples["qroute_mlu"][0].value > 0.2  # 4 Mbit/s on 10 Mbit/s links measured
