"""The dashboard of a real controller with Abilene in Mininet, in Debian's headless chromium:
every switch and link drawn, a link's colour following the load iperf3 puts on it, and a drain
clicked on the page moving that traffic (the controller's installed paths leave the link, the
switches' port counters on it fall). The screenshot is kept at bench-out/test-ui-mininet.png."""
from __future__ import annotations

import re
import time

import pytest

from controller.lab.mininet_lab import REPO_ROOT
from tests.lab_helpers import dashboard_page, lab_module, started_lab

pytestmark = pytest.mark.mininet

SCREENSHOT = REPO_ROOT / "bench-out" / "test-ui-mininet.png"
SRC, DST = "h3", "h8"   # Chicago -> Los Angeles: several hops, other paths to move to
IPERF_PORT, IPERF_SECONDS = 5411, 90


def _all_pairs_ping(lab):
    assert lab.ping_all() == 0.0


@pytest.fixture(scope="module")
def lab(request):
    from topologies.mininet_topos import AbileneTopo

    yield from started_lab(lab_module("mininet_lab"), AbileneTopo(), request,
                           {"topology": "abilene", "routing_weight": "ospf", "policy": "shortest-path"},
                           ready=_all_pairs_ping)


@pytest.fixture(scope="module")
def page(lab):
    yield from dashboard_page(lab.rest_port)


@pytest.fixture(scope="module")
def traffic(lab):
    """A TCP transfer from SRC to DST for the rest of the module; yields its first link."""
    path = lab.wait_for_path(SRC, DST)
    server = lab.start_iperf3_server(DST, IPERF_PORT)
    time.sleep(0.5)
    client = lab.start_iperf3_client(SRC, DST, IPERF_PORT, IPERF_SECONDS)
    yield path
    for process in (client, server):
        process.kill()
        process.wait(timeout=10)


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")


def _colour(page, link):
    colour = page.execute_script("return qroute.cy.getElementById(arguments[0]).style('line-color')",
                                 f"{link[0]}-{link[1]}")
    return tuple(int(part) for part in re.findall(r"\d+", colour)[:3])


def _uses(pairs, src, dst, cable):
    """Whether the installed split of (src, dst) sends anything over the cable (either way)."""
    for entry in pairs:
        if (entry["src"], entry["dst"]) == (src, dst):
            hops = {frozenset(h) for p in entry["paths"] if p["weight"] > 0
                    for h in zip(p["path"], p["path"][1:])}
            return frozenset(cable) in hops
    raise AssertionError(f"no pair {src}-{dst} installed")


def _rest_utilisation(lab, link):
    return next(entry["utilisation"] for entry in lab.rest("links")
                if (entry["src"], entry["dst"]) == tuple(link))


def test_every_switch_and_link_of_the_network_is_drawn(lab, page):
    switches = {int(name[1:]) for name in lab.topo.switches()}
    cables = [(int(a[1:]), int(b[1:])) for a, b in lab.topo.links()
              if lab.topo.isSwitch(a) and lab.topo.isSwitch(b)]
    directed = {f"{a}-{b}" for a, b in cables} | {f"{b}-{a}" for a, b in cables}
    drawn = _wait(lambda: page.execute_script(
        "const cy = qroute.cy;"
        "return cy.nodes().length === arguments[0] && cy.edges().length === arguments[1]"
        " && [cy.nodes().map(n => Number(n.id())), cy.edges().map(e => e.id())]",
        len(switches), len(directed)), 20, "every switch and link drawn")
    assert set(drawn[0]) == switches and set(drawn[1]) == directed
    x = dict(zip(*page.execute_script("return [qroute.cy.nodes().map(n => Number(n.id())),"
                                      " qroute.cy.nodes().map(n => n.position('x'))]")))
    assert x[11] < x[4] < x[3] < x[9]  # Seattle, Denver, Chicago, New York: west to east


def test_a_link_changes_colour_when_traffic_loads_it(lab, page, traffic):
    first_link = traffic[:2]
    idle = _colour(page, first_link)
    assert idle[1] > idle[0], f"s{first_link[0]}-s{first_link[1]} drawn {idle} before its load"
    busy = _wait(lambda: (lambda c: c if c[0] > c[1] else None)(_colour(page, first_link)), 20,
                 f"s{first_link[0]}-s{first_link[1]} drawn red under iperf3")
    assert _rest_utilisation(lab, first_link) > 0.5, busy


def test_a_drain_clicked_on_the_page_moves_the_traffic(lab, page, traffic):
    from selenium.webdriver.common.action_chains import ActionChains

    src, dst = traffic[0], traffic[-1]
    cable = traffic[:2]
    spot = page.execute_script("return qroute.cy.getElementById(arguments[0]).renderedMidpoint()",
                               f"{cable[0]}-{cable[1]}")
    graph = page.find_element("id", "graph")
    offset = (int(spot["x"] - graph.size["width"] / 2), int(spot["y"] - graph.size["height"] / 2))
    ActionChains(page).move_to_element_with_offset(graph, *offset).click().perform()
    assert sorted(page.execute_script("return qroute.selectedLink")) == sorted(cable)
    page.find_element("id", "token").send_keys(lab.settings["api_token"])
    page.find_element("id", "token-set").click()
    page.find_element("id", "drain").click()
    _wait(lambda: "200" in page.find_element("id", "message").text, 10,
          f"the drain answered: {page.find_element('id', 'message').text}")
    _wait(lambda: not _uses(lab.rest("pairs"), src, dst, cable), 15,
          f"pair {src}-{dst} off s{cable[0]}-s{cable[1]}")
    _wait(lambda: _rest_utilisation(lab, cable) < 0.1, 15,
          f"s{cable[0]}-s{cable[1]} unloaded by the switches' counters")
    new_path = lab.path_between(SRC, DST)
    assert frozenset(cable) not in {frozenset(h) for h in zip(new_path, new_path[1:])}
    _wait(lambda: page.execute_script("return qroute.cy.getElementById(arguments[0]).hasClass('drained')",
                                      f"{cable[0]}-{cable[1]}"), 10, "the page draws the link drained")
    _wait(lambda: _colour(page, new_path[:2])[0] > _colour(page, new_path[:2])[1], 15,
          "the traffic's new first link drawn loaded")
    page.execute_script("qroute.selectPair(arguments[0], arguments[1])", src, dst)
    time.sleep(1.5)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert page.save_screenshot(str(SCREENSHOT))
    page.execute_script("qroute.selectLink(arguments[0], arguments[1])", *cable)
    page.find_element("id", "undrain").click()
    _wait(lambda: not any(link["drained"] for link in lab.rest("topology")["links"]), 10,
          "the link undrained from the page")
