"""The dashboard's files: ``GET /qroute/ui/`` (index.html) and ``/qroute/ui/<file>`` from
``controller/ui/``, served by the controller's own WSGI server.

Only files under that folder with a known extension are served; a name is matched segment by
segment (no segment may start with a dot, so ``..`` never matches) and its resolved path must
still lie under the folder (a symbolic link pointing out of it is refused too). The vendored
libraries (``controller/ui/vendor/``, copied from node_modules by ``make install``) are served
the same way, so the page loads nothing from elsewhere; its Content-Security-Policy says so to
the browser as well.
"""
from __future__ import annotations

import re
from pathlib import Path

from controller.compat import patch_eventlet

patch_eventlet()  # ryu.app.wsgi needs it on the eventlet releases that run on Python 3.11

from ryu.app.wsgi import ControllerBase, Response, route  # noqa: E402

UI_DIR = Path(__file__).resolve().parent / "ui"

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}
TEXT_TYPES = {"text/html", "text/javascript", "text/css", "application/json", "image/svg+xml",
              "text/plain"}
# Scripts, styles and requests from this server only: no CDN, no inline script. Styles may be
# inline because the graph and chart libraries set element styles from script.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'")
# one or two path segments of safe characters, none starting with a dot
FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)?")


def ui_file(name: str, root: Path = UI_DIR) -> Path | None:
    """The file under ``root`` that ``name`` (a relative path from the URL) names, or None when
    it is not a servable file there."""
    if not FILE_NAME.fullmatch(name):
        return None
    try:
        resolved = (root / name).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file() or not resolved.is_relative_to(root.resolve()):
        return None
    if resolved.suffix not in CONTENT_TYPES:
        return None
    return resolved


def file_response(path: Path) -> Response:
    content_type = CONTENT_TYPES[path.suffix]
    response = Response(body=path.read_bytes(), content_type=content_type,
                        charset="utf-8" if content_type in TEXT_TYPES else None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def not_found(what: str) -> Response:
    response = Response(body=f"not found: {what}\n".encode(), content_type="text/plain",
                        charset="utf-8")
    response.status = 404
    return response


class QRouteUi(ControllerBase):
    @route("qroute-ui", "/qroute/ui", methods=["GET"])
    def to_index(self, req, **_):
        response = Response(status=301)
        response.headers["Location"] = "/qroute/ui/"
        return response

    @route("qroute-ui", "/qroute/ui/{name:.*}", methods=["GET"])
    def file(self, req, name, **_):
        name = name or "index.html"  # /qroute/ui/
        path = ui_file(name)
        return file_response(path) if path else not_found(name)


def register_ui(wsgi) -> None:
    wsgi.register(QRouteUi, None)  # no data: it serves files, not the app
