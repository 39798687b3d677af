"""The dashboard in Debian's headless chromium against a scripted controller: the page served
by the controller's own WSGI routes, the JSON answers from a script (the contract of
/qroute/v1/topology, /state and /decisions), so that what the page draws, sends and keeps can be
checked exactly. The same page against a real controller and Mininet: test_ui_mininet.py."""
from __future__ import annotations

import json
import re
import shutil
import threading
import time
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from controller.rest import register_rest_api  # first: it patches eventlet for ryu.app.wsgi
from controller.ui_rest import UI_DIR
from ryu.app.wsgi import WSGIApplication

from tests.lab_helpers import dashboard_page

pytestmark = pytest.mark.slow

TOKEN = "scripted-token-4821"
# Three switches in a line west to east, as a topology with coordinates; s1-s2 carries the load.
SWITCHES = [{"dpid": 1, "label": "West", "lat": 40.0, "lon": -120.0},
            {"dpid": 2, "label": "Middle", "lat": 41.0, "lon": -100.0},
            {"dpid": 3, "label": "East", "lat": 40.5, "lon": -80.0}]
CABLES = [(1, 2), (2, 3), (1, 3)]


def _link(src, dst, utilisation):
    return {"src": src, "dst": dst, "capacity_bps": 1e7, "load_bps": 1e7 * utilisation,
            "utilisation": utilisation, "drained": False}


class ScriptedController:
    """The JSON API as the contract has it, with loads the test sets; every write recorded."""

    def __init__(self, located: bool = True):
        self.switches = SWITCHES if located else [{**s, "lat": None, "lon": None} for s in SWITCHES]
        self.loads = {(a, b): 0.05 for a, b in CABLES} | {(b, a): 0.05 for a, b in CABLES}
        self.writes = []
        self.cookies_seen = []
        self.run = 1764600000.0
        self.state_delay_s = 0.0  # a slow controller: polls take longer than the page waits
        self.ui = WSGIApplication()
        register_rest_api(self.ui, None)  # only its /qroute/ui/ routes are asked here
        self.decisions = [
            {"number": 0, "time": 1764600000.0, "reasons": ["start"], "kind": "start", "policy": "qnn",
             "fallback": "", "decision_ms": 3.0, "install_ms": 20.0,
             "changes": [{"src": 1, "dst": 3, "paths": [[1, 2, 3], [1, 3]], "weights": [0.6, 0.4],
                          "change": "new"}],
             "moved": {"new": 1, "rerouted": 0, "reweighted": 0, "removed": 0},
             "predicted_mlu": 0.3, "mlu_before": None, "mlu_after": 0.31},
            {"number": 1, "time": 1764600010.0, "reasons": ["link 2-3 down"], "kind": "failure",
             "policy": "shortest-path (fallback)", "fallback": "deadline", "decision_ms": 41.5,
             "install_ms": 12.0, "changes": [], "moved": {"new": 0, "rerouted": 0, "reweighted": 0,
                                                         "removed": 0},
             "predicted_mlu": None, "mlu_before": 0.31, "mlu_after": None},
            {"number": 2, "time": 1764600020.0, "reasons": ["periodic"], "kind": "timer", "policy": "qnn",
             "fallback": "", "decision_ms": 4.0, "install_ms": 2001.0, "aborted": [3], "changes": [],
             "moved": {"new": 0, "rerouted": 0, "reweighted": 0, "removed": 0},
             "predicted_mlu": 0.3, "mlu_before": 0.31, "mlu_after": None}]

    def topology(self):
        links = [_link(s, d, u) for (s, d), u in sorted(self.loads.items())]
        return {"name": "line", "switches": self.switches, "links": links,
                "mlu": max(link["utilisation"] for link in links), "policy": "qnn", "split": True,
                "checkpoint": "qnn-abilene", "stats_interval": 0.5}

    def state(self):
        return {"switches": [1, 2, 3], "links": self.topology()["links"], "hosts": [], "epoch": 4,
                "rerouting": False, "policy": "qnn (split, checkpoint qnn-abilene)", "policy_name": "qnn",
                "policy_problem": "", "metrics_problem": "", "last_decision_error": "",
                "decision_log_problem": "decision_log_file /var/q.jsonl cannot be written (denied)",
                "pairs": [{"src": 1, "dst": 3, "demand_bps": 2e6, "installed": True, "not_installed": "",
                           "paths": [{"path": [1, 2, 3], "weight": 0.6, "label": 11, "bps": 1.2e6},
                                     {"path": [1, 3], "weight": 0.4, "label": 12, "bps": 0.8e6}]}],
                "guards": {"decisions_abandoned": {"deadline": 1}, "last_abandoned": "took 2.1 s",
                           "decisions_rejected": {}, "moves_deferred": {}, "openflow_errors": [],
                           "pairs_not_installed": []},
                "settings": {"stats_interval": 0.5}}

    def __call__(self, environ, start_response):
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path.startswith("/qroute/ui"):
            return self.ui(environ, start_response)
        if environ.get("HTTP_COOKIE"):
            self.cookies_seen.append(environ["HTTP_COOKIE"])
        if method != "GET":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self.writes.append((method, path, environ.get("HTTP_AUTHORIZATION", ""),
                                environ["wsgi.input"].read(length).decode()))
            return self._json(start_response, {"requested": True}, "202 Accepted")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if path == "/qroute/v1/topology":
            return self._json(start_response, self.topology())
        if path == "/qroute/v1/state":
            time.sleep(self.state_delay_s)
            return self._json(start_response, self.state())
        if path == "/qroute/v1/decisions":
            since = int(query.get("since", ["-1"])[0])
            if "since" in query and since < 0:  # as the controller: a decision number or nothing
                return self._json(start_response, {"error": "since: not a decision number"},
                                  "400 Bad Request")
            latest = max((d["number"] for d in self.decisions), default=0)
            return self._json(start_response, {"size": 200, "run": self.run, "latest": latest,
                                               "decisions": [d for d in self.decisions
                                                             if d["number"] > since]})
        return self._json(start_response, {"error": "no such path"}, "404 Not Found")

    @staticmethod
    def _json(start_response, body, status="200 OK"):
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _serve(scripted: ScriptedController):
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make install)")
    if not (UI_DIR / "vendor" / "cytoscape.min.js").exists():
        pytest.skip("controller/ui/vendor/ is made by make install (npm ci)")
    server = make_server("127.0.0.1", 0, scripted, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scripted.port = server.server_address[1]
    yield scripted
    server.shutdown()


@pytest.fixture(scope="module")
def controller():
    yield from _serve(ScriptedController())


@pytest.fixture
def unlocated_controller():
    yield from _serve(ScriptedController(located=False))


@pytest.fixture(scope="module")
def page(controller):
    yield from dashboard_page(controller.port)


def _updates_after(page, count=2, timeout=10.0):
    start = page.execute_script("return qroute.updates")
    deadline = time.monotonic() + timeout
    while page.execute_script("return qroute.updates") < start + count:
        assert time.monotonic() < deadline, "the page stopped polling"
        time.sleep(0.1)


def _rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", colour)[:3])


def _click_graph(page, element_id: str, midpoint: bool = False):
    """A real mouse click on a node (or an edge's midpoint) where cytoscape drew it."""
    from selenium.webdriver.common.action_chains import ActionChains

    spot = page.execute_script(
        "const e = qroute.cy.getElementById(arguments[0]);"
        "return arguments[1] ? e.renderedMidpoint() : e.renderedPosition();", element_id, midpoint)
    graph = page.find_element("id", "graph")
    size = graph.size
    ActionChains(page).move_to_element_with_offset(
        graph, int(spot["x"] - size["width"] / 2), int(spot["y"] - size["height"] / 2)).click().perform()


def test_every_switch_and_link_is_drawn_at_its_coordinates(page):
    nodes = page.execute_script(
        "return qroute.cy.nodes().map(n => [n.id(), n.data('label'), n.position('x')])")
    edges = page.execute_script("return qroute.cy.edges().map(e => [e.data('src'), e.data('dst')])")
    assert sorted(n[:2] for n in nodes) == [["1", "West"], ["2", "Middle"], ["3", "East"]]
    assert sorted(map(tuple, edges)) == sorted([c for a, b in CABLES for c in ((a, b), (b, a))])
    x = {node_id: x for node_id, _, x in nodes}
    assert x["1"] < x["2"] < x["3"]  # west to east, as their longitudes


def test_a_link_turns_from_green_to_red_as_its_load_rises(controller, page):
    idle = _rgb(page.execute_script("return qroute.cy.getElementById('1-2').style('line-color')"))
    controller.loads[(1, 2)] = 0.97
    _updates_after(page)
    busy = _rgb(page.execute_script("return qroute.cy.getElementById('1-2').style('line-color')"))
    widths = page.execute_script(
        "return ['1-2', '2-1'].map(id => parseFloat(qroute.cy.getElementById(id).style('width')))")
    assert idle[1] > idle[0] and busy[0] > busy[1], (idle, busy)
    reverse = _rgb(page.execute_script("return qroute.cy.getElementById('2-1').style('line-color')"))
    assert reverse[1] > reverse[0]  # the other direction stays idle
    assert widths[0] > widths[1]  # the loaded direction drawn wider


def test_clicking_two_switches_shows_their_tunnels_and_weights(page):
    _click_graph(page, "1")
    _click_graph(page, "3")
    assert page.execute_script("return qroute.selectedPair") == [1, 3]
    text = page.find_element("id", "selection").text
    assert "0.600" in text and "0.400" in text and "West" in text and "East" in text
    on_path = page.execute_script("return qroute.cy.edges('.onpath').map(e => e.id()).sort()")
    assert on_path == ["1-2", "1-3", "2-3"]


def test_the_panels_show_problems_and_the_decision_timeline(page):
    problems = page.find_element("id", "problems").text
    assert "deadline 1" in problems and "took 2.1 s" in problems
    assert "decision_log_file /var/q.jsonl cannot be written" in problems
    timeline = page.find_element("id", "timeline").text
    assert "link 2-3 down" in timeline and "failure" in timeline and "41.5 ms" in timeline
    assert timeline.index("#2") < timeline.index("#1") < timeline.index("#0")  # newest first
    assert "plan stopped: no barrier reply from s3" in timeline
    assert timeline.count("plan stopped") == 1  # the other decisions' plans went whole
    assert page.execute_script("return document.querySelectorAll('#chart canvas').length") >= 1


def test_a_restarted_controller_s_decisions_replace_the_old_run_s_in_the_timeline(controller, page):
    kept = (controller.run, controller.decisions)
    try:
        # numbered from 1 again: #1 exists in both runs, and the old #0 has no successor
        controller.run = kept[0] + 3600
        controller.decisions = [{**kept[1][1], "number": 1, "reasons": ["operator reoptimize"],
                                 "kind": "operator", "mlu_after": 0.2}]
        _updates_after(page, 3)
        assert [(d["number"], d["reasons"]) for d in page.execute_script("return qroute.decisions")] == \
            [(1, ["operator reoptimize"])]
        timeline = page.find_element("id", "timeline").text
        assert "operator reoptimize" in timeline and "link 2-3 down" not in timeline
    finally:
        controller.run, controller.decisions = kept
        _updates_after(page, 3)


def test_a_poll_asked_for_while_one_runs_waits_for_it_one_polling_loop_only(controller, page):
    page.execute_script("""
        window.stateFetches = {now: 0, most: 0, all: 0};
        const fetched = window.fetch;
        window.fetch = async (...args) => {
          const counted = String(args[0]).includes("/qroute/v1/state");
          if (counted) { stateFetches.all++; stateFetches.now++;
                         stateFetches.most = Math.max(stateFetches.most, stateFetches.now); }
          try { return await fetched(...args); } finally { if (counted) stateFetches.now--; }
        };""")
    controller.state_delay_s = 0.6  # each poll outlasts the 0.3 s a write's pollSoon waits
    try:
        for _ in range(6):
            page.execute_script("qroute.pollSoon()")
            time.sleep(0.35)
        time.sleep(2.0)
        fetches = page.execute_script("return window.stateFetches")
    finally:
        controller.state_delay_s = 0.0
    assert fetches["most"] == 1, fetches
    _updates_after(page, 2)  # still polling


def test_a_drain_from_the_page_carries_the_token_and_no_cookie(controller, page):
    _click_graph(page, "1-2", midpoint=True)
    assert sorted(page.execute_script("return qroute.selectedLink")) == [1, 2]
    page.find_element("id", "drain").click()
    assert "token" in page.find_element("id", "message").text.lower()  # asked for it, sent nothing
    assert not controller.writes
    page.find_element("id", "token").send_keys(TOKEN)
    page.find_element("id", "token-set").click()
    assert page.find_element("id", "token").get_attribute("value") == ""
    page.find_element("id", "drain").click()
    deadline = time.monotonic() + 5
    while not controller.writes and time.monotonic() < deadline:
        time.sleep(0.05)
    method, path, authorization, _ = controller.writes[-1]
    assert method == "POST" and re.fullmatch(r"/qroute/v1/links/(1-2|2-1)/drain", path)
    assert authorization == f"Bearer {TOKEN}"
    page.find_element("id", "reoptimize").click()
    page.find_element("id", "policy-name").send_keys("mlp")
    page.find_element("id", "policy-apply").click()
    deadline = time.monotonic() + 5
    while len(controller.writes) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(m, p) for m, p, _, _ in controller.writes[1:]] == [("POST", "/qroute/v1/reoptimize"),
                                                               ("PUT", "/qroute/v1/policy")]
    assert json.loads(controller.writes[2][3]) == {"policy": "mlp"}
    kept = page.execute_script("return [document.cookie, localStorage.length, sessionStorage.length]")
    assert kept == ["", 0, 0] and not controller.cookies_seen


def test_without_coordinates_every_load_draws_the_same_picture(page, unlocated_controller):
    from controller.lab.browser import dashboard_url, wait_for_updates

    pictures = []
    for _ in range(2):
        page.get(dashboard_url(unlocated_controller.port))
        wait_for_updates(page, 2)
        pictures.append(page.execute_script(
            "return qroute.cy.nodes().map(n => [n.id(), Math.round(n.position('x')),"
            " Math.round(n.position('y'))])"))
    assert pictures[0] == pictures[1]
    spots = {(x, y) for _, x, y in pictures[0]}
    assert len(pictures[0]) == 3 and len(spots) == 3  # every switch drawn, none on another
