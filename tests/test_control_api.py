"""The control API through Ryu's real WSGI application on the app tier's ring of five switches
(s1 to s3: short way 1-2-3, long way 1-5-4-3): tokens, bad requests, drains, the run-time
policy switch, the decision log, the topology view, the OpenAPI document, and a fuzz."""
from __future__ import annotations

import json
import logging
import random
import re
from types import SimpleNamespace

import pytest
from webob import Request

import controller.app as app_module
from controller import ryu_options
from tests.fakes import NEXT_PORT, FakeNetwork
from tests.tables_sim import assert_record_is_true
from tests.test_controller_app import (LONG, SHORT, _record_barriers, clock, delivered,  # noqa: F401
                                       every_pair_delivered, home, learn, paths_of, replayed,
                                       spawned)

TOKEN = "s3cret"
WRITES = [("PUT", "policy", {"policy": "lp"}), ("POST", "reoptimize", None),
          ("POST", "links/2-3/drain", None), ("POST", "links/2-3/undrain", None),
          ("PUT", "pins/1-3", {"paths": [[1, 2, 3]]}), ("DELETE", "pins/1-3", None)]


@pytest.fixture
def api(spawned, clock, tmp_path, monkeypatch):  # noqa: F811
    """(app, net, wsgi, call(method, path, body, token, headers)) with hosts on s1 and s3."""
    return make_api(clock, tmp_path, monkeypatch)


@pytest.fixture
def unprotected_api(spawned, clock, tmp_path, monkeypatch):  # noqa: F811
    """As ``api``, without local protection."""
    return make_api(clock, tmp_path, monkeypatch, "local_protection = false\n")


def make_api(clock, tmp_path, monkeypatch, extra_conf=""):  # noqa: F811
    from ryu.app.wsgi import WSGIApplication

    conf = tmp_path / "q.conf"
    conf.write_text(f"[qroute]\napi_token = {TOKEN}\ndecision_log_file = {tmp_path / 'd.jsonl'}\n"
                    + extra_conf)
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    wsgi = WSGIApplication()
    app = app_module.QRouteController(wsgi=wsgi)
    app.clock = clock.monotonic
    app.wall_clock = lambda: 1_764_600_000.0 + clock.now
    net = FakeNetwork(app, n=5)
    _record_barriers(app, net)
    net.start()
    for n in (1, 3):
        learn(net, n)

    def call(method, path, body=None, token=TOKEN, headers=None):
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        response = Request.blank(f"/qroute/v1/{path}", method=method, headers=sent,
                                 body=data or b"").get_response(wsgi)
        app.run_pending_reroutes()  # as the rerouting greenthread would
        return response.status_int, json.loads(response.body)

    return SimpleNamespace(app=app, net=net, wsgi=wsgi, call=call)


@pytest.mark.parametrize("method, path, body", WRITES)
def test_every_write_needs_the_bearer_token_401_without_403_with_another(api, method, path, body):
    before = (dict(api.app.tunnels.splits), api.app.policy, len(api.app.decisions.records))
    status, reply = api.call(method, path, body, token=None)
    assert status == 401 and "Authorization: Bearer" in reply["error"]
    assert api.call(method, path, body, token=None,
                    headers={"Authorization": f"Basic {TOKEN}"})[0] == 401
    status, reply = api.call(method, path, body, token="s3cret2")
    assert status == 403 and "not the controller's" in reply["error"]
    assert api.call(method, path, body, token="S3CRET")[0] == 403
    assert (dict(api.app.tunnels.splits), api.app.policy, len(api.app.decisions.records)) == before
    assert api.app.drained.cables == set()


@pytest.mark.parametrize("method, path, body, status, says", [
    ("PUT", "policy", b"{not json", 400, "not JSON"),
    ("PUT", "policy", b"", 400, "must be JSON"),
    ("PUT", "policy", b"[" * 50_000, 400, "not JSON"),
    ("PUT", "policy", {"policy": "lp", "pin": 1}, 400, "unknown field(s) 'pin'"),
    ("PUT", "policy", {"policy": "ospf"}, 400, "must be one of"),
    ("PUT", "policy", {"split": "sometimes"}, 400, "'split' must be"),
    ("PUT", "policy", {"policy": "qnn", "checkpoint": "/nonexistent/q.pt"}, 400, "policy qnn unavailable"),
    ("PUT", "policy", {"policy": "qnn", "checkpoint": "mlp-abilene-single"}, 400, "holds a mlp model"),
    ("PUT", "policy", b"x" * 70_000, 413, "over"),
    ("POST", "reoptimize", {"now": True}, 400, "unknown field(s) 'now'"),
    ("POST", "reoptimize", b"[1]", 400, "JSON object"),
    ("POST", "links/1-3/drain", None, 404, "no link 1-3"),
    ("POST", "links/1-9/undrain", None, 404, "no link 1-9"),
    ("POST", "links/one-2/drain", None, 400, "<dpid>-<dpid>"),
    ("POST", "links/2-3/drain", {"force": True}, 400, "unknown field(s) 'force'"),
    ("PUT", "pins/1-3", b"[" * 50_000, 400, "not JSON"),
    ("PUT", "topology", None, 405, "read-only"),
    ("DELETE", "decisions", None, 405, "read-only"),
])
def test_a_bad_write_gets_a_4xx_naming_the_problem_and_changes_nothing(api, method, path, body,
                                                                       status, says):
    before = (dict(api.app.tunnels.splits), api.app.policy.description, dict(api.app.pins.splits))
    api.net.clear()
    got, reply = api.call(method, path, body)
    assert (got, says in reply["error"]) == (status, True), reply
    assert (dict(api.app.tunnels.splits), api.app.policy.description, dict(api.app.pins.splits)) == before
    assert api.app.drained.cables == set() and api.app.status.policy_problem == ""


@pytest.mark.parametrize("since", ["-1", "x", "1.5", "", "1&since=2", "%ff", "9" * 5000])
def test_decisions_since_must_be_one_whole_number(api, since, caplog):
    caplog.set_level(logging.ERROR, logger="qroute.rest")
    status, reply = api.call("GET", f"decisions?since={since}", token=None)
    assert status == 400 and "since" in reply["error"]
    assert rest_errors(caplog) == []


@pytest.mark.parametrize("method, path, body, says", [
    ("PUT", "pins/1-" + "9" * 4400, {"paths": [[1, 2, 3]]}, "up to 20 digits"),
    ("DELETE", "pins/" + "1" * 21 + "-3", None, "up to 20 digits"),
    ("POST", "links/2-" + "3" * 4400 + "/drain", None, "up to 20 digits"),
    ("PUT", "pins/1-3", {"paths": [[1, 2, 3]], "weights": [10 ** 400]}, "integer of 1329 bits"),
    ("PUT", "pins/1-3", {"paths": [[1, 2, 3], [1, 5, 4, 3]], "weights": [1, -10 ** 400]}, "weights[1]"),
])
def test_huge_numbers_get_a_400_naming_them_and_no_error_logged(api, method, path, body, says, caplog):
    caplog.set_level(logging.ERROR, logger="qroute.rest")
    status, reply = api.call(method, path, body)
    assert (status, says in reply["error"]) == (400, True), reply
    assert rest_errors(caplog) == [] and api.app.pins.splits == {}


def test_a_failure_of_the_controller_itself_is_a_500_logged_not_a_400(api, monkeypatch, caplog):
    def broken():
        raise KeyError("a bug")

    monkeypatch.setattr(api.app, "topology", broken)
    caplog.set_level(logging.ERROR, logger="qroute.rest")
    status, reply = api.call("GET", "topology", token=None)
    assert status == 500 and "internal error" in reply["error"] and "a bug" not in reply["error"]
    assert rest_errors(caplog) == ["REST GET /qroute/v1/topology failed"]


def test_draining_moves_the_pair_make_before_break_and_undraining_brings_it_back(api):
    app, net, call = api.app, api.net, api.call
    assert paths_of(app, 1, 3) == [SHORT]
    net.clear()
    status, reply = call("POST", "links/3-2/drain")
    assert (status, reply) == (200, {"link": [3, 2], "drained": True, "changed": True})
    # at every barrier the app waited on, both hosts still reach each other
    sim = replayed(net, at_each_barrier=every_pair_delivered([1, 3]))
    assert delivered(sim, 1, 3) == {LONG} and paths_of(app, 3, 1) == [LONG[::-1]]
    links = {(link["src"], link["dst"]): link["drained"] for link in call("GET", "links", token=None)[1]}
    assert links[(2, 3)] and links[(3, 2)] and not links[(1, 2)]
    topology = call("GET", "topology", token=None)[1]
    assert {(link["src"], link["dst"]) for link in topology["links"] if link["drained"]} == {(2, 3), (3, 2)}
    last = app.decisions.records[-1]
    assert (last["kind"], last["reasons"], last["policy"], last["fallback"]) == \
        ("operator", ["operator drain 3-2"], "shortest-path", "")
    assert {(c["src"], c["dst"], c["change"]): c["paths"] for c in last["changes"]} == {
        (1, 3, "rerouted"): [list(LONG)], (3, 1, "rerouted"): [list(LONG[::-1])]}
    # the ring is a line now: 4-5 carries the pair, and draining it would cut the network
    status, reply = call("POST", "links/4-5/drain")
    assert status == 409 and "cut the network" in reply["error"]
    assert call("POST", "links/2-3/drain")[1]["changed"] is False
    # a pin over a drained link is refused: the link is not in the graph the controller routes on
    status, reply = call("PUT", "pins/1-3", {"paths": [list(SHORT)]})
    assert status == 400 and "drained link(s) 2-3" in reply["error"], reply
    assert call("POST", "links/2-3/undrain")[1] == {"link": [2, 3], "drained": False, "changed": True}
    assert delivered(replayed(net), 1, 3) == {SHORT}
    assert call("POST", "links/2-3/undrain")[1]["changed"] is False


def test_the_policy_is_switched_at_run_time_and_the_decision_it_asks_for_is_recorded(api):
    app, call = api.app, api.call
    status, reply = call("PUT", "policy", {"policy": "lp", "split": True})
    assert status == 200 and reply["policy_name"] == "lp" and reply["split"] is True
    assert call("GET", "policy", token=None)[1] == reply
    assert app.policy.name == "lp" and app.settings.split == "true"
    last = app.decisions.records[-1]
    assert (last["kind"], last["reasons"], last["policy"]) == ("operator", ["operator policy lp"], "lp")
    status, reply = call("PUT", "policy", {"policy": "qnn", "checkpoint": "/nonexistent.pt"})
    assert status == 400 and app.policy.name == "lp"  # the old policy stays
    assert call("PUT", "policy", {"policy": "shortest-path"})[1]["policy_name"] == "shortest-path"
    assert call("GET", "topology", token=None)[1]["policy"] == "shortest-path"


def test_reoptimize_is_accepted_and_decided_even_when_nothing_changes(api):
    app, call = api.app, api.call
    before = len(app.decisions.records)
    assert call("POST", "reoptimize") == (202, {"requested": True})
    assert call("POST", "reoptimize", b"{}")[0] == 202
    records = call("GET", f"decisions?since={app.decisions.number - 2}", token=None)[1]["decisions"]
    assert [(r["kind"], r["changes"], r["moved"]["rerouted"]) for r in records] == [("operator", [], 0)] * 2
    assert len(app.decisions.records) == before + 2


def test_a_decision_records_predicted_and_measured_mlu(api, clock):  # noqa: F811
    app, net, call = api.app, api.net, api.call
    # s1's ring port towards s2 sends 2.5 MB in 2 s: 10 Mbit/s, the default capacity
    net.port_stats(1, {NEXT_PORT: 0})
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 2_500_000})
    app.pair_rates.bps[(1, 3)] = 4e6  # as the group counters would measure
    call("POST", "links/2-3/drain")
    last = app.decisions.records[-1]
    # 4 Mbit/s of 10 on each link of 1-5-4-3; the measured 1.0 on 1-2 is from before
    assert (last["predicted_mlu"], last["mlu_before"], last["mlu_after"]) == (pytest.approx(0.4), 1.0, None)
    clock.now += 2.0
    net.port_stats(1, {NEXT_PORT: 2_500_000 + 500_000})  # 2 Mbit/s on 1-2 now
    assert last["mlu_after"] == pytest.approx(0.2)
    lines = (home_path(app) / "d.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["number"] == last["number"]


def home_path(app):
    import pathlib

    return pathlib.Path(app.decisions.file).parent


def test_the_topology_view_names_abilene_switches_with_their_cities(spawned, clock, tmp_path,  # noqa: F811
                                                                   monkeypatch):
    conf = tmp_path / "q.conf"
    conf.write_text("[qroute]\ntopology = abilene\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    from tests.test_controller_app import FakeWsgi

    app = app_module.QRouteController(wsgi=FakeWsgi())
    app.state.add_switch(2)
    app.state.add_switch(99)
    view = app.topology()
    assert view["switches"] == [{"dpid": 2, "label": "ATLAng", "lat": 33.749, "lon": -84.388},
                                {"dpid": 99, "label": "s99", "lat": None, "lon": None}]
    assert (view["name"], view["policy"], view["mlu"], view["stats_interval"]) == \
        ("abilene", "shortest-path", None, 2.0)


# --- the OpenAPI document -------------------------------------------------------------------
def routes_answered(wsgi):
    """(path, method) of every /qroute/v1 route the WSGI mapper knows, with the alternatives of
    its requirements spelled out (``{part}`` of ``pairs|links`` is two paths)."""
    found = set()
    for route in wsgi.mapper.matchlist:
        if not route.routepath.startswith("/qroute/v1/"):
            continue
        paths = [route.routepath]
        for name, pattern in (route.reqs or {}).items():
            paths = [path.replace("{%s}" % name, choice) for path in paths for choice in pattern.split("|")]
        for method in route.conditions.get("method", ["GET"]):
            found.update((path, method.lower()) for path in paths)
    return found


def test_every_route_is_documented_and_every_documented_route_answers(api):
    status, document = api.call("GET", "openapi.json", token=None)
    assert status == 200 and document["openapi"].startswith("3.0")
    text = json.dumps(document)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in document["components"]["schemas"], ref
    assert all("responses" in operation for item in document["paths"].values()
               for operation in item.values())
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes_answered(api.wsgi) == documented
    for path, method in sorted(documented):
        concrete = path.replace("{link}", "4-5").replace("{pair}", "1-3")
        response = Request.blank(concrete, method=method.upper(),
                                 headers={"Authorization": f"Bearer {TOKEN}"}).get_response(api.wsgi)
        # the mapper's own 404 for a path it does not know is an HTML page, never JSON
        assert response.content_type == "application/json", (path, method)
        assert str(response.status_int) in document["paths"][path][method]["responses"], \
            (path, method, response.status_int)


# --- fuzz ------------------------------------------------------------------------------------
PIECES = ["state", "pairs", "links", "hosts", "switches", "resync", "ha", "pins", "topology",
          "decisions", "openapi.json", "policy", "reoptimize", "links/1-2/drain", "links/2-1/undrain",
          "links/3-4/drain", "links/5-1/drain", "links/1-3/drain", "pins/1-3", "pins/3-1", "pins/1-1",
          "links/x/drain", "%ff", "%00", "..", "drain", "undrain", "-", "1-2", "9" * 40, "é",
          "pins/1-" + "9" * 4400, "links/1-" + "9" * 4400 + "/drain"]
METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"]


def random_json(rng, depth=0):
    if depth == 0 and rng.random() < 0.2:  # a few well-formed ones: the writes then happen
        return rng.choice([{"policy": "shortest-path"}, {"policy": "lp", "split": rng.random() < 0.5},
                           {"paths": [[1, 2, 3]]}, {"paths": [[1, 5, 4, 3], [1, 2, 3]], "weights": [1, 2]},
                           {"paths": [[3, 2, 1]]}, {"paths": [[1, 2, 3]], "weights": [10 ** 400]}, {}])
    kinds = ["int", "float", "str", "bool", "null", "list", "dict"] if depth < 3 else ["int", "str"]
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, 1, 2, 3, 5, -1, 2 ** 70, 10 ** 400, rng.randint(-10, 10)])
    if kind == "float":
        return rng.choice([0.5, -0.0, 1e308, 1e-320, rng.random()])
    if kind == "str":
        return rng.choice(["mlp", "lp", "milp", "shortest-path", "auto", "", "mlp-abilene-single",
                           "\u0000", "../../etc/passwd", "é" * 5])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["policy", "checkpoint", "split", "paths", "weights", "x", ""]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


ROUTES = [("GET", "state"), ("GET", "links"), ("GET", "topology"), ("GET", "decisions"),
          ("GET", "policy"), ("PUT", "policy"), ("POST", "reoptimize"), ("POST", "links/1-2/drain"),
          ("POST", "links/2-3/drain"), ("POST", "links/4-3/drain"), ("POST", "links/2-3/undrain"),
          ("POST", "links/5-1/undrain"), ("PUT", "pins/1-3"), ("DELETE", "pins/1-3"), ("PUT", "pins/3-1")]


def random_request(rng, token=TOKEN):
    """Mostly the API's own routes with random bodies and headers, else random paths and methods."""
    if rng.random() < 0.7:
        method, path = rng.choice(ROUTES)
        path = "/qroute/v1/" + path
    else:
        method = rng.choice(METHODS)
        path = "/qroute/v1/" + "/".join(rng.choice(PIECES) for _ in range(rng.choice([1, 1, 1, 2, 3])))
    if rng.random() < 0.2:
        path += rng.choice(["?since=", "?since=3", "?since=-2", "?since=%ff", "?a=b&since=1", "?since=1e3"])
    headers = {}
    auth = rng.random()
    if auth < 0.5:
        headers["Authorization"] = f"Bearer {token}"
    elif auth < 0.7:
        headers["Authorization"] = rng.choice(["Bearer", "Bearer ", "bearer x", "Basic abc", "Bearer é",
                                               f"Bearer {token} {token}", "x" * 300])
    if rng.random() < 0.3:
        headers["Content-Type"] = rng.choice(["application/json", "text/plain", "multipart/form-data"])
    shape = rng.random()
    if shape < 0.5:
        body = json.dumps(random_json(rng)).encode()
    elif shape < 0.7:
        body = b""
    elif shape < 0.85:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
    else:
        body = rng.choice([b"{", b"[" * 5000, b'{"policy": "qnn"', b"\xff\xfe", b"null", b"1e999"])
    return method, path, headers, body


def rest_errors(caplog) -> list[str]:
    """What the REST layer logged at ERROR: a request it did not foresee (a bug)."""
    return [record.getMessage() for record in caplog.records
            if record.name == "qroute.rest" and record.levelno >= logging.ERROR]


def test_thousands_of_random_requests_get_no_5xx_and_the_network_keeps_forwarding(api, caplog):
    caplog.set_level(logging.ERROR, logger="qroute.rest")
    rng = random.Random(16)
    statuses = set()
    for _ in range(3000):
        method, path, headers, body = random_request(rng)
        request = Request.blank("/", method=method, headers=headers, body=body)
        # as a server hands the app a path: percent escapes decoded, bytes as latin-1 characters
        request.path_info = re.sub(r"%[0-9a-fA-F]{2}", lambda m: chr(int(m.group(0)[1:], 16)),
                                   path.split("?")[0])
        request.query_string = path.partition("?")[2]
        response = request.get_response(api.wsgi)
        api.app.run_pending_reroutes()
        statuses.add(response.status_int)
        assert response.status_int < 500, (method, path, headers, body[:80], response.body[:300])
    assert {200, 202, 400, 401, 403, 404, 405, 409}.issubset(statuses)  # writes went through too
    assert rest_errors(caplog) == []
    assert Request.blank("/qroute/v1/state").get_response(api.wsgi).status_int == 200
    every_pair_delivered([1, 3])(replayed(api.net))


def test_no_tunnel_nor_backup_is_kept_over_a_drained_link(api):
    app, net, call = api.app, api.net, api.call
    assert app.tunnels.protect  # local protection (the default): backups around each hop
    call("POST", "links/2-3/drain")
    sim = replayed(net)
    assert_record_is_true(sim, app.tunnels)
    over = [path for path in (*app.tunnels.labels, *app.tunnels.record.backups)
            if {(2, 3), (3, 2)} & set(zip(path, path[1:]))]
    assert over == [], (app.tunnels.labels, app.tunnels.record.backups, app.tunnels.splits)


def test_a_drained_link_stays_drained_after_a_restart(api, clock):  # noqa: F811
    from tests.test_controller_app import FakeWsgi

    api.call("POST", "links/3-2/drain")
    again = app_module.QRouteController(wsgi=FakeWsgi())  # same settings, same state file
    assert again.drained.is_drained((2, 3)) and again.drained.is_drained((3, 2))
    api.call("POST", "links/2-3/undrain")
    assert app_module.QRouteController(wsgi=FakeWsgi()).drained.cables == set()


def test_a_decision_the_fallback_made_says_why(api):
    app, call = api.app, api.call
    assert call("PUT", "policy", {"policy": "lp"})[0] == 200

    def fails(*_):
        raise RuntimeError("solver gone")

    app.policy.decide = fails
    before = dict(app.tunnels.splits)
    call("POST", "reoptimize")
    last = app.decisions.records[-1]
    assert (last["policy"], last["fallback"]) == \
        ("shortest-path (fallback)", "failed: RuntimeError('solver gone')")
    assert app.tunnels.splits == before and last["changes"] == []  # intact splits kept


def test_decisions_by_the_fallback_name_the_configured_policy_that_could_not_be_built(spawned, clock,  # noqa: F811
                                                                                      tmp_path, monkeypatch):
    conf = tmp_path / "q.conf"
    conf.write_text(f"[qroute]\npolicy = qnn\ncheckpoint = {tmp_path / 'missing.pt'}\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    from tests.test_controller_app import FakeWsgi

    app = app_module.QRouteController(wsgi=FakeWsgi())
    app.clock = clock.monotonic
    net = FakeNetwork(app, n=5)
    net.start()
    learn(net, 1)
    learn(net, 3)
    last = app.decisions.records[-1]
    assert last["policy"] == "shortest-path (fallback)" and "policy qnn unavailable" in last["fallback"]


def test_a_failure_while_a_link_is_drained_keeps_every_pair_connected_over_the_drained_link(api, caplog):
    app, net, call = api.app, api.net, api.call
    assert call("POST", "links/2-3/drain")[0] == 200
    assert paths_of(app, 1, 3) == [LONG]
    caplog.set_level(logging.WARNING)
    for src, dst in net.link_between(4, 5):  # the long way fails: 2-3 is the only way left
        net.link_delete(src, dst)
    app.run_pending_reroutes()
    warned = [r.getMessage() for r in caplog.records if "carry traffic again" in r.getMessage()]
    assert warned == ["drained link(s) 2-3 carry traffic again: without them some switches could "
                      "not reach one another"]
    assert paths_of(app, 1, 3) == [SHORT] and paths_of(app, 3, 1) == [SHORT[::-1]]
    sim = replayed(net, down={(4, 5), (5, 4)})
    assert delivered(sim, 1, 3) == {SHORT} and delivered(sim, 3, 1) == {SHORT[::-1]}
    links = {(link["src"], link["dst"]): (link["drained"], link["carrying"])
             for link in call("GET", "links", token=None)[1]}
    assert links[(2, 3)] == links[(3, 2)] == (True, True) and links[(1, 2)] == (False, False)
    topology = call("GET", "topology", token=None)[1]
    assert {(link["src"], link["dst"]) for link in topology["links"] if link["carrying"]} == {(2, 3), (3, 2)}
    # the failure repaired, the drained link is out of the graph again
    for src, dst in net.link_between(4, 5):
        net.link_add(src, dst)
    app.run_pending_reroutes()
    assert paths_of(app, 1, 3) == [LONG]
    assert not any(link["carrying"] for link in call("GET", "links", token=None)[1])


def test_a_drain_restored_from_the_state_file_carries_where_a_failure_leaves_no_other_way(api, clock):  # noqa: F811
    from tests.test_controller_app import FakeWsgi

    api.call("POST", "links/2-3/drain")
    again = app_module.QRouteController(wsgi=FakeWsgi())
    for (a, a_port), (b, b_port) in api.net.ring_links():  # the network it finds: 4-5 failed
        again.state.add_switch(a)
        if {a, b} != {4, 5}:
            again.state.add_link(a, b, a_port, b_port)
    assert again.drained.is_drained((2, 3))
    assert again.routing_graph().has_edge(2, 3) and again.routing_graph().has_edge(3, 2)


def test_a_drain_arriving_while_the_policy_decides_waits_for_the_next_decision(unprotected_api):
    app, net = unprotected_api.app, unprotected_api.net
    assert not app.tunnels.protect and paths_of(app, 1, 3) == [SHORT]
    decide = app.policy.decide

    def drains_meanwhile(*args):
        app.policy.decide = decide
        app.drain((2, 3))  # the operator's drain arrives while the policy decides
        return decide(*args)

    app.policy.decide = drains_meanwhile
    net.clear()
    app.reroute("operator reoptimize", ["operator reoptimize"])  # the decision the drain arrives in
    first = app.decisions.records[-1]
    assert first["reasons"] == ["operator reoptimize"] and first["moved"]["removed"] == 0, first
    assert paths_of(app, 1, 3) == [SHORT] and paths_of(app, 3, 1) == [SHORT[::-1]]
    app.run_pending_reroutes()  # the drain's own decision moves them, make before break
    assert app.decisions.records[-1]["reasons"] == ["operator drain 2-3"]
    assert paths_of(app, 1, 3) == [LONG] and paths_of(app, 3, 1) == [LONG[::-1]]
    sim = replayed(net, at_each_barrier=every_pair_delivered([1, 3]))
    assert delivered(sim, 1, 3) == {LONG}


def test_a_restarted_controller_numbers_decisions_from_1_again_under_another_run(api, monkeypatch):
    from ryu.app.wsgi import WSGIApplication

    before = api.call("GET", "decisions", token=None)[1]
    latest = before["latest"]
    assert latest == before["decisions"][-1]["number"] > 1
    assert {d["run"] for d in before["decisions"]} == {before["run"]}
    monkeypatch.setattr(app_module.time, "time", lambda: before["run"] + 60.0)
    wsgi = WSGIApplication()
    again = app_module.QRouteController(wsgi=wsgi)  # same settings, started a minute later
    again.reroute("operator reoptimize", ["operator reoptimize"])

    def get(path):
        response = Request.blank(f"/qroute/v1/{path}").get_response(wsgi)
        return response.status_int, json.loads(response.body)

    status, reply = get(f"decisions?since={latest}")
    assert (status, reply["run"], reply["latest"], reply["decisions"]) == (200, before["run"] + 60.0, 1, [])
    assert [(d["number"], d["run"]) for d in get("decisions")[1]["decisions"]] == [(1, before["run"] + 60.0)]


@pytest.mark.parametrize("holder, says", [("old-master", "master: old-master"), ("", "master: none known")])
@pytest.mark.parametrize("method, path, body", WRITES)
def test_every_write_on_a_standby_is_409_naming_the_master_and_changes_nothing(api, method, path, body,
                                                                                holder, says):
    from controller.leadership import Term
    from controller.roles import ControllerRole

    app = api.app
    app.ha.leadership = SimpleNamespace(instance_id="standby", ttl_s=3, problem="")
    app.ha.role = ControllerRole(True)
    app.ha.role.term = Term(False, holder, 7)
    app.pins.pin((1, 3), ((tuple(SHORT), 1.0),))  # so that an unpin would change something
    asked = []
    app.request_reroute = asked.append
    before = (dict(app.tunnels.splits), app.policy, dict(app.pins.splits))
    status, reply = api.call(method, path, body)
    assert status == 409 and f"standby ({says})" in reply["error"], reply
    assert (dict(app.tunnels.splits), app.policy, dict(app.pins.splits)) == before
    assert app.drained.cables == set() and asked == []
    assert api.call(method, path, body, token="wrong")[0] == 403  # the token is checked first


def test_two_policy_switches_at_once_both_take_effect(api, monkeypatch):
    import eventlet

    built = app_module.make_policy

    def slow_build(*args):  # the build yields, as a checkpoint's load off the event loop does
        eventlet.sleep(0.05)
        return built(*args)

    monkeypatch.setattr(app_module, "make_policy", slow_build)
    first = eventlet.spawn(api.app.switch_policy, {"policy": "lp"})
    eventlet.sleep(0)  # the first is building when the second arrives
    second = eventlet.spawn(api.app.switch_policy, {"split": True})
    first.wait()
    assert second.wait()["policy_name"] == "lp"
    view = api.app.policy_view()
    assert (view["policy_name"], view["split"]) == ("lp", True)


@pytest.mark.parametrize("method, path, allow", [
    ("POST", "policy", "GET, PUT"), ("DELETE", "policy", "GET, PUT"), ("PATCH", "policy", "GET, PUT"),
    ("GET", "reoptimize", "POST"), ("PUT", "reoptimize", "POST"),
    ("GET", "links/1-2/drain", "POST"), ("DELETE", "links/1-2/undrain", "POST"),
    ("GET", "pins/1-3", "PUT, DELETE"), ("POST", "pins/1-3", "PUT, DELETE"), ("POST", "pins", "GET"),
])
def test_a_wrong_method_on_a_route_is_a_json_405_naming_the_right_ones(api, method, path, allow):
    before = (dict(api.app.tunnels.splits), api.app.policy, dict(api.app.pins.splits))
    response = Request.blank(f"/qroute/v1/{path}", method=method,
                             headers={"Authorization": f"Bearer {TOKEN}"}).get_response(api.wsgi)
    assert (response.status_int, response.content_type, response.headers["Allow"]) == \
        (405, "application/json", allow)
    assert allow in json.loads(response.body)["error"]
    assert (dict(api.app.tunnels.splits), api.app.policy, dict(api.app.pins.splits)) == before
    assert api.app.drained.cables == set() and api.app.pending_reasons == []
