"""The REST API through Ryu's own WSGI application (routing, status codes, JSON bodies)."""
from __future__ import annotations

import json

import pytest
import webob

from controller.rest import register_rest_api  # first: it patches eventlet for ryu.app.wsgi
from ryu.app.wsgi import WSGIApplication


class DescribedApp:
    def describe(self):
        return {"switches": [1, 2], "links": [], "hosts": [],
                "pairs": [{"src": 1, "dst": 2, "paths": [{"path": [1, 2], "weight": 1.0}]}],
                "policy": "shortest-path"}


@pytest.fixture
def api():
    wsgi = WSGIApplication()
    register_rest_api(wsgi, DescribedApp())
    return lambda path, method="GET", body=b"": \
        webob.Request.blank(path, method=method, body=body).get_response(wsgi)


def test_state_and_each_part_are_served_as_json(api):
    state = api("/qroute/v1/state")
    assert state.status_int == 200 and state.content_type == "application/json"
    assert json.loads(state.body)["policy"] == "shortest-path"
    assert json.loads(api("/qroute/v1/pairs").body) == [{"src": 1, "dst": 2, "paths": [{"path": [1, 2],
                                                                                       "weight": 1.0}]}]
    assert api("/qroute/v1/nothing").status_int == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("part", ["state", "pairs"])
def test_writes_are_refused_as_not_allowed_naming_get(api, method, part):
    response = api(f"/qroute/v1/{part}", method=method, body=b"{bad json")
    assert response.status_int == 405 and response.headers["Allow"] == "GET"
    assert "read-only" in json.loads(response.body)["error"]
