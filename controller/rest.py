"""REST API: GET /qroute/v1/{state,pairs,links,hosts,switches,resync,ha,pins} as JSON, and pins written with
``PUT``/``DELETE /qroute/v1/pins/<src>-<dst>`` behind a bearer token.

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
from collections import Counter
from collections.abc import Iterable

from controller.compat import patch_eventlet

patch_eventlet()  # ryu.app.wsgi needs it on the eventlet releases that run on Python 3.11

from ryu.app.wsgi import ControllerBase, Response, route  # noqa: E402

from controller.api_token import bearer_matches  # noqa: E402
from controller.pins import PinError, parse_pair  # noqa: E402
from controller.ui_rest import register_ui  # noqa: E402

APP_KEY = "qroute_app"


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


class QRouteRest(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[APP_KEY]

    @route("qroute", "/qroute/v1/state", methods=["GET"])
    def state(self, req, **_):
        return _json(self.app.describe())

    @route("qroute", "/qroute/v1/{part}", methods=["GET"],
           requirements={"part": "pairs|links|hosts|switches|resync|ha"})
    def part(self, req, part, **_):
        return _json(self.app.describe()[part])

    @route("qroute", "/qroute/v1/pins", methods=["GET"])
    def pins(self, req, **_):
        return _json(self.app.pins.describe())

    @route("qroute", "/qroute/v1/pins/{pair}", methods=["PUT", "DELETE"])
    def pin(self, req, pair, **_):
        if not bearer_matches(req.headers.get("Authorization"), self.app.api_token):
            response = _error(401, "writes need 'Authorization: Bearer <token>' (the token is in "
                                   f"{self.app.api_token_source})")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        try:
            key = parse_pair(pair)
            if req.method == "DELETE":
                if not self.app.unpin(key):
                    return _error(404, f"pair {pair} is not pinned")
                return _json({"unpinned": list(key)})
            try:
                body = json.loads(req.body or b"")
            except (ValueError, UnicodeDecodeError) as error:
                return _error(400, f"the body is not JSON: {error}")
            split = self.app.pin(key, body)
        except UnknownPair as error:
            return _error(404, str(error))
        except PinError as error:
            return _error(400, str(error))
        return _json({"pinned": list(key), "paths": [list(p) for p, _ in split],
                      "weights": [w for _, w in split]})

    @route("qroute", "/qroute/v1/{part}", methods=["POST", "PUT", "PATCH", "DELETE"],
           requirements={"part": "state|pairs|links|hosts|switches"})
    def read_only(self, req, part, **_):
        response = _json({"error": f"/qroute/v1/{part} is read-only: use GET"})
        response.status = 405
        response.headers["Allow"] = "GET"
        return response


def register_rest_api(wsgi, app) -> None:
    wsgi.register(QRouteRest, {APP_KEY: app})
    register_ui(wsgi)  # the dashboard's files, /qroute/ui/
