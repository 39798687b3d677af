"""REST API under /qroute/v1 (every route is described in ``controller/openapi.json``, served at
``/qroute/v1/openapi.json``): open reads (state and its parts, topology, decisions, policy, pins)
and the control writes behind a bearer token: the policy switched, a re-optimisation asked for,
links drained and undrained, pins put and deleted.

Served by Ryu's WSGI server, which the launcher binds to 127.0.0.1 unless told otherwise. The
view itself (:func:`describe`) is built from the controller's parts, with its status counted
once in a :class:`ControllerStatus` (the Prometheus metrics read the same one). Writes need
``Authorization: Bearer <token>`` (:mod:`controller.api_token`); no cookies are used, so a page
on another site cannot make a browser write. A bad request gets a 4xx and a message, never a
change.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import re
from collections import Counter
from collections.abc import Iterable

from controller.compat import patch_eventlet

patch_eventlet()  # ryu.app.wsgi needs it on the eventlet releases that run on Python 3.11

from ryu.app.wsgi import ControllerBase, Response, route  # noqa: E402

from controller.api_token import bearer_matches  # noqa: E402
from controller.drain import DrainError, parse_link  # noqa: E402
from controller.pins import PinError, parse_pair  # noqa: E402
from controller.policy_switch import ControlError  # noqa: E402
from controller.ui_rest import register_ui  # noqa: E402

APP_KEY = "qroute_app"
LOG = logging.getLogger("qroute.rest")


class UnknownPair(PinError):
    """A pin for a pair the controller has no switch of."""


@dataclasses.dataclass
class ControllerStatus:
    """What went wrong and what the controller has done, since start."""

    policy_problem: str = ""       # why the configured policy is not in use, if it is not
    metrics_problem: str = ""      # why the metrics endpoint is not served, if it is not
    last_decision_error: str = ""  # the last time a learned decision raised, and what
    reroutes: int = 0              # decisions that changed rules
    reroutes_by_trigger: Counter = dataclasses.field(default_factory=Counter)
    pairs_rerouted: int = 0        # switch pairs whose set of paths changed
    pairs_reweighted: int = 0      # switch pairs whose weights alone changed
    policy_failures: int = 0       # learned decisions that raised
    pairs_installed: int = 0
    tunnels_installed: int = 0
    # decisions' deadlines and guards (controller.decision_guard) and refused rules (of_errors)
    decisions_abandoned: Counter = dataclasses.field(default_factory=Counter)  # why -> count
    last_abandoned: str = ""
    decisions_rejected: Counter = dataclasses.field(default_factory=Counter)   # reason -> count
    last_rejected: str = ""
    moves_deferred: Counter = dataclasses.field(default_factory=Counter)  # hold_down, max_moves
    openflow_errors: Counter = dataclasses.field(default_factory=Counter)  # (type, code) -> count
    last_openflow_errors: list = dataclasses.field(default_factory=list)  # the latest, newest last
    not_installed: dict = dataclasses.field(default_factory=dict)  # pair -> why (the last error)

    def policy_failed(self, error: str) -> None:
        self.policy_failures += 1
        self.last_decision_error = error

    def rerouted(self, triggers: Iterable[str], rerouted: int, reweighted: int,
                 pairs_installed: int, tunnels_installed: int) -> None:
        """One decision that changed rules, answering `triggers` (reasons such as "link 2-3
        down"): it counts once under each kind (first word) among them."""
        self.reroutes += 1
        self.reroutes_by_trigger.update({trigger.split()[0] for trigger in triggers})
        self.pairs_rerouted += rerouted
        self.pairs_reweighted += reweighted
        self.pairs_installed = pairs_installed
        self.tunnels_installed = tunnels_installed


LAST_ERRORS_KEPT = 20  # OpenFlow errors shown in the REST state


def openflow_error_seen(status: ControllerStatus, type_name: str, code_name: str, text: str) -> None:
    status.openflow_errors[(type_name, code_name)] += 1
    status.last_openflow_errors.append(text)
    del status.last_openflow_errors[:-LAST_ERRORS_KEPT]


def _guards(status: ControllerStatus, settings) -> dict:
    """Deadlines, guards, churn budget and refused rules: what was abandoned, rejected, deferred
    or refused since start."""
    return {
        "decision_timeout_s": settings.decision_timeout,
        "decisions_abandoned": dict(sorted(status.decisions_abandoned.items())),
        "last_abandoned": status.last_abandoned,
        "decisions_rejected": dict(sorted(status.decisions_rejected.items())),
        "last_rejected": status.last_rejected,
        "moves_deferred": dict(sorted(status.moves_deferred.items())),
        "openflow_errors": [{"type": t, "code": c, "count": n}
                            for (t, c), n in sorted(status.openflow_errors.items())],
        "last_openflow_errors": list(status.last_openflow_errors),
        "pairs_not_installed": [{"src": src, "dst": dst, "why": why}
                                for (src, dst), why in sorted(status.not_installed.items())],
    }


def _pairs(tunnels, pair_rates, not_installed=None) -> list[dict]:
    """Each switch pair's installed split: its tunnels (path, weight, label, measured rate of
    its bucket when known) and the pair's measured demand; `installed` is false (with the
    switch's error in `not_installed`) for a pair whose rules a switch refused, which is listed
    even when nothing of it is left installed."""
    not_installed = not_installed or {}
    view = []
    for (src, dst), split in sorted(tunnels.splits.items()):
        bucket_bps = pair_rates.bucket_bps.get((src, dst), ())
        paths = [{"path": list(path), "weight": weight, "label": tunnels.labels.get(path),
                  "bps": bucket_bps[index] if index < len(bucket_bps) else None}
                 for index, (path, weight) in enumerate(split)]
        view.append({"src": src, "dst": dst, "demand_bps": pair_rates.bps.get((src, dst)),
                     "paths": paths, "installed": (src, dst) not in not_installed,
                     "not_installed": not_installed.get((src, dst), "")})
    view += [{"src": src, "dst": dst, "demand_bps": pair_rates.bps.get((src, dst)), "paths": [],
              "installed": False, "not_installed": why}
             for (src, dst), why in sorted(not_installed.items()) if (src, dst) not in tunnels.splits]
    return sorted(view, key=lambda entry: (entry["src"], entry["dst"]))


def describe(state, tunnels, pair_rates, policy, status: ControllerStatus,
             rerouting: bool, settings) -> dict:
    """The REST view: the network as the controller sees it (a `NetworkState`), what it
    installed (`InstalledTunnels`), the measured demands (`PairRates`), the policy, and its
    status. `rerouting`: a decision is asked for or running (splits may be about to change)."""
    return {
        "switches": sorted(state.switches),
        "links": [{"src": s, "dst": d, "src_port": p.src_port, "dst_port": p.dst_port,
                   "capacity_bps": state.capacity((s, d)),
                   "load_bps": state.load_bps.get((s, d), 0.0),
                   "utilisation": state.utilisation((s, d))}
                  for (s, d), p in sorted(state.links.items())],
        "hosts": [{"mac": h.mac, "ip": h.ip, "dpid": h.dpid, "port": h.port}
                  for h in sorted(state.hosts.values(), key=lambda h: h.mac)],
        "pairs": _pairs(tunnels, pair_rates, status.not_installed),
        "tunnels": len(tunnels.labels),
        "protection": {"enabled": tunnels.protect, "backup_tunnels": len(tunnels.record.backups),
                       "protected_hops": len(tunnels.record.protection),
                       "unprotected_hops": len(tunnels.record.unprotected)},
        "policy": policy.description,
        "policy_name": policy.name,
        "policy_problem": status.policy_problem,
        "metrics_problem": status.metrics_problem,
        "last_decision_error": status.last_decision_error,
        "epoch": tunnels.epoch,
        "rerouting": rerouting,
        "pairs_rerouted": status.pairs_rerouted,
        "pairs_reweighted": status.pairs_reweighted,
        "policy_failures": status.policy_failures,
        "guards": _guards(status, settings),
        # the API token guards the writes: the open reads never show it
        "settings": {**dataclasses.asdict(settings), "api_token": "(set)" if settings.api_token else ""},
    }


def _json(body, status: int = 200) -> Response:
    response = Response(content_type="application/json", charset="utf-8",
                        body=json.dumps(body, indent=1).encode("utf-8"))
    response.status = status
    return response


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


class BadRequest(ValueError):
    """A request answered with ``status`` and a message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


MAX_BODY_BYTES = 64 * 1024
NUMBER = re.compile(r"[0-9]{1,18}")


def json_body(req, fields: Iterable[str] = (), required: bool = False):
    """The request's JSON body: an object whose keys are among ``fields`` (an empty body is
    ``{}`` unless ``required``); BadRequest otherwise. With ``fields`` None, any JSON value."""
    if (req.content_length or 0) > MAX_BODY_BYTES:  # refused before it is read
        raise BadRequest(413, f"the body is over {MAX_BODY_BYTES} bytes")
    raw = req.body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(413, f"the body is over {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        if required:
            raise BadRequest(400, "the body must be JSON")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise BadRequest(400, f"the body is not JSON: {error}") from None
    if fields is None:
        return body
    fields = set(fields)
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object" +
                         (f" with any of {', '.join(sorted(fields))}" if fields else " ({})"))
    unknown = sorted(set(body) - fields)
    if unknown:
        raise BadRequest(400, f"unknown field(s) {', '.join(map(repr, unknown))} "
                              f"(known: {', '.join(sorted(fields)) or 'none'})")
    return body


def since_number(req) -> int | None:
    """``?since=N`` (a whole number of 0 or more), or None without it."""
    try:
        given = req.GET.getall("since")
    except UnicodeDecodeError:  # webob decodes the query string as UTF-8
        raise BadRequest(400, "the query string is not UTF-8 (since must be a whole number)") from None
    if not given:
        return None
    if len(given) > 1 or not NUMBER.fullmatch(given[0]):
        raise BadRequest(400, f"since must be one whole number of 0 or more (a decision's "
                              f"number), not {', '.join(map(repr, given))}")
    return int(given[0])


def openapi_document() -> bytes:
    return pathlib.Path(__file__).with_name("openapi.json").read_bytes()


READ_ONLY = "state|pairs|links|hosts|switches|resync|ha|topology|decisions|openapi.json|pins"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _others(*allowed: str) -> list[str]:
    return [method for method in METHODS if method not in allowed]


def _wrong_method(what: str, allowed: str, method: str) -> Response:
    response = _error(405, f"{what} takes {allowed}, not {method}")
    response.headers["Allow"] = allowed
    return response


class QRouteRest(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[APP_KEY]

    def __call__(self, req):
        """What a request can get wrong is answered with a 4xx and a message; anything else is
        the controller's own fault: logged, and answered 500 with no detail of it."""
        try:
            return super().__call__(req)
        except BadRequest as error:
            return _error(error.status, str(error))
        except (ControlError, PinError) as error:
            return _error(400, str(error))
        except DrainError as error:
            return _error(error.status, str(error))
        except Exception:  # a bug: no input should get here (the fuzz tests look for it)
            LOG.exception("REST %s %s failed", req.method[:20], req.path_info[:200])
            return _error(500, "internal error: the controller could not handle this request "
                               "(its log says why)")

    def _refused(self, req) -> Response | None:
        """Writes need ``Authorization: Bearer <token>``: 401 without one, 403 with another;
        409 on a standby (high availability), whose changes would do nothing."""
        scheme, _, given = (req.headers.get("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            response = _error(401, "writes need 'Authorization: Bearer <token>' (the token is in "
                                   f"{self.app.api_token_source})")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if not bearer_matches(req.headers.get("Authorization"), self.app.api_token):
            return _error(403, "the bearer token is not the controller's (it is in "
                               f"{self.app.api_token_source})")
        standby = self.app.ha.standby_refusal()
        if standby:
            return _error(409, standby)
        return None

    @route("qroute", "/qroute/v1/state", methods=["GET"])
    def state(self, req, **_):
        return _json(self.app.describe())

    @route("qroute", "/qroute/v1/{part}", methods=["GET"],
           requirements={"part": "pairs|links|hosts|switches|resync|ha"})
    def part(self, req, part, **_):
        return _json(self.app.describe()[part])

    @route("qroute", "/qroute/v1/topology", methods=["GET"])
    def topology(self, req, **_):
        return _json(self.app.topology())

    @route("qroute", "/qroute/v1/decisions", methods=["GET"])
    def decisions(self, req, **_):
        return _json(self.app.decisions.describe(since_number(req)))

    @route("qroute", "/qroute/v1/openapi.json", methods=["GET"])
    def openapi(self, req, **_):
        return Response(content_type="application/json", charset="utf-8", body=openapi_document())

    @route("qroute", "/qroute/v1/policy", methods=["GET"])
    def policy(self, req, **_):
        return _json(self.app.policy_view())

    @route("qroute", "/qroute/v1/policy", methods=["PUT"])
    def switch_policy(self, req, **_):
        refused = self._refused(req)
        if refused:
            return refused
        return _json(self.app.switch_policy(json_body(req, None, required=True)))

    @route("qroute", "/qroute/v1/reoptimize", methods=["POST"])
    def reoptimize(self, req, **_):
        refused = self._refused(req)
        if refused:
            return refused
        json_body(req)
        self.app.reoptimize()
        return _json({"requested": True}, 202)

    # (not {action}: Ryu takes that name for the method a route calls)
    @route("qroute", "/qroute/v1/links/{link}/{verb}", methods=["POST"],
           requirements={"verb": "drain|undrain"})
    def drain(self, req, link, verb, **_):
        refused = self._refused(req)
        if refused:
            return refused
        json_body(req)
        key = parse_link(link)
        changed = (self.app.drain if verb == "drain" else self.app.undrain)(key)
        return _json({"link": list(key), "drained": verb == "drain", "changed": changed})

    @route("qroute", "/qroute/v1/pins", methods=["GET"])
    def pins(self, req, **_):
        return _json(self.app.pins.describe())

    @route("qroute", "/qroute/v1/pins/{pair}", methods=["PUT", "DELETE"])
    def pin(self, req, pair, **_):
        refused = self._refused(req)
        if refused:
            return refused
        try:
            key = parse_pair(pair)
            if req.method == "DELETE":
                if not self.app.unpin(key):
                    return _error(404, f"pair {pair} is not pinned")
                return _json({"unpinned": list(key)})
            split = self.app.pin(key, json_body(req, None, required=True))
        except UnknownPair as error:
            return _error(404, str(error))
        except PinError as error:
            return _error(400, str(error))
        return _json({"pinned": list(key), "paths": [list(p) for p, _ in split],
                      "weights": [w for _, w in split]})

    @route("qroute", "/qroute/v1/{part}", methods=_others("GET"),
           requirements={"part": READ_ONLY})
    def read_only(self, req, part, **_):
        response = _json({"error": f"/qroute/v1/{part} is read-only: use GET"})
        response.status = 405
        response.headers["Allow"] = "GET"
        return response

    # the write routes' other methods: a JSON 405 naming the right ones, not the mapper's 404
    @route("qroute", "/qroute/v1/policy", methods=_others("GET", "PUT"))
    def policy_other_method(self, req, **_):
        return _wrong_method("/qroute/v1/policy", "GET, PUT", req.method)

    @route("qroute", "/qroute/v1/reoptimize", methods=_others("POST"))
    def reoptimize_other_method(self, req, **_):
        return _wrong_method("/qroute/v1/reoptimize", "POST", req.method)

    @route("qroute", "/qroute/v1/links/{link}/{verb}", methods=_others("POST"),
           requirements={"verb": "drain|undrain"})
    def drain_other_method(self, req, verb, **_):
        return _wrong_method(f"/qroute/v1/links/<link>/{verb}", "POST", req.method)

    @route("qroute", "/qroute/v1/pins/{pair}", methods=_others("PUT", "DELETE"))
    def pin_other_method(self, req, **_):
        return _wrong_method("/qroute/v1/pins/<pair>", "PUT, DELETE", req.method)


def register_rest_api(wsgi, app) -> None:
    wsgi.register(QRouteRest, {APP_KEY: app})
    register_ui(wsgi)  # the dashboard's files, /qroute/ui/
