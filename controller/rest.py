"""Read-only REST API: GET /qroute/v1/{state,paths,links,hosts,switches} as JSON.

Served by Ryu's WSGI server, which the launcher binds to 127.0.0.1 unless told otherwise.
"""
from __future__ import annotations

import json

from controller.compat import patch_eventlet

patch_eventlet()  # ryu.app.wsgi needs it on the eventlet releases that run on Python 3.11

from ryu.app.wsgi import ControllerBase, Response, route  # noqa: E402

APP_KEY = "qroute_app"


def _json(body) -> Response:
    return Response(content_type="application/json", charset="utf-8",
                    body=json.dumps(body, indent=1).encode("utf-8"))


class QRouteRest(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[APP_KEY]

    @route("qroute", "/qroute/v1/state", methods=["GET"])
    def state(self, req, **_):
        return _json(self.app.describe())

    @route("qroute", "/qroute/v1/{part}", methods=["GET"],
           requirements={"part": "paths|links|hosts|switches"})
    def part(self, req, part, **_):
        return _json(self.app.describe()[part])

    @route("qroute", "/qroute/v1/{part}", methods=["POST", "PUT", "PATCH", "DELETE"],
           requirements={"part": "state|paths|links|hosts|switches"})
    def read_only(self, req, part, **_):
        response = _json({"error": f"/qroute/v1/{part} is read-only: use GET"})
        response.status = 405
        response.headers["Allow"] = "GET"
        return response


def register_rest_api(wsgi, app) -> None:
    wsgi.register(QRouteRest, {APP_KEY: app})
