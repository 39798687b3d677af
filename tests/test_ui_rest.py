"""The dashboard's static files through Ryu's own WSGI application: what is served, with which
content type, and that nothing outside controller/ui/ is (path traversal, links, odd names)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import webob

from controller.rest import register_rest_api  # first: it patches eventlet for ryu.app.wsgi
from controller.ui_rest import UI_DIR, ui_file
from ryu.app.wsgi import WSGIApplication

REPO = Path(__file__).resolve().parents[1]
SECRET = "qroute-secret-marker-7f3a"


class DescribedApp:
    def describe(self):
        return {"switches": [], "links": [], "hosts": [], "pairs": [], "policy": "shortest-path"}


@pytest.fixture
def get():
    wsgi = WSGIApplication()
    register_rest_api(wsgi, DescribedApp())
    return lambda path: webob.Request.blank(path).get_response(wsgi)


def test_the_index_is_the_dashboard_page_as_html(get):
    response = get("/qroute/ui/")
    assert response.status_int == 200
    assert response.content_type == "text/html" and response.charset == "utf-8"
    assert response.body == (REPO / "controller/ui/index.html").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_without_the_slash_it_redirects_to_the_index(get):
    response = get("/qroute/ui")
    assert response.status_int == 301 and response.headers["Location"].endswith("/qroute/ui/")


@pytest.mark.parametrize("name, content_type", [("dashboard.js", "text/javascript"),
                                                ("dashboard.css", "text/css")])
def test_each_file_is_served_byte_for_byte_with_its_type(get, name, content_type):
    response = get(f"/qroute/ui/{name}")
    assert response.status_int == 200 and response.content_type == content_type
    assert response.body == (REPO / "controller/ui" / name).read_bytes()


def test_a_missing_file_is_404(get):
    assert get("/qroute/ui/nothing.js").status_int == 404
    assert get("/qroute/ui/vendor/nothing.js").status_int == 404


@pytest.mark.parametrize("path", [
    "/qroute/ui/../rest.py", "/qroute/ui/%2e%2e/rest.py", "/qroute/ui/..%2frest.py",
    "/qroute/ui/vendor/../../rest.py", "/qroute/ui/vendor/%2e%2e/%2e%2e/rest.py",
    "/qroute/ui//etc/passwd", "/qroute/ui/%2fetc%2fpasswd", "/qroute/ui/..\\rest.py",
    "/qroute/ui/.hidden.js", "/qroute/ui/vendor/.installed", "/qroute/ui/a/b/c.js",
    "/qroute/ui/index.html%00.js", "/qroute/ui/../../setup.cfg",
])
def test_nothing_outside_the_ui_folder_is_served(get, path):
    response = get(path)
    assert response.status_int in (400, 404), path
    assert b"ryu" not in response.body.lower() and b"[metadata]" not in response.body


def test_a_link_out_of_the_folder_and_an_unknown_kind_are_refused(tmp_path):
    root = tmp_path / "ui"
    root.mkdir()
    outside = tmp_path / "outside.js"
    outside.write_text(SECRET)
    os.symlink(outside, root / "escape.js")
    (root / "inside.js").write_text("ok")
    (root / "notes.py").write_text(SECRET)
    assert ui_file("inside.js", root) == (root / "inside.js").resolve()
    assert ui_file("escape.js", root) is None
    assert ui_file("notes.py", root) is None
    assert ui_file("", root) is None


def test_the_page_loads_only_files_this_server_has():
    """No CDN: every script and stylesheet the page names is a relative path to a file under
    controller/ui/ (the vendored ones once `make install` copied them)."""
    html = (UI_DIR / "index.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references and all(not re.match(r"[a-z]+:|//", ref) for ref in references), references
    vendored = [ref for ref in references if ref.startswith("vendor/")]
    assert {Path(ref).name for ref in vendored} == {"cytoscape.min.js", "uPlot.iife.min.js", "uPlot.min.css"}
    for ref in set(references) - set(vendored):
        assert ui_file(ref) is not None, ref
    if not (UI_DIR / "vendor").is_dir():
        pytest.skip("controller/ui/vendor/ is made by make install (npm ci)")
    for ref in vendored:
        assert ui_file(ref) is not None, f"{ref}: run make install"
