"""For the Mininet tier: the lab tools, or a skip naming what is missing (root, Debian's
mininet package); under CI=true such a skip fails (conftest.py)."""
from __future__ import annotations

import importlib
import os

import pytest


def lab_module(name: str):
    """``controller.lab.<name>``, imported only where a lab can run."""
    if os.geteuid() != 0:
        pytest.skip("Mininet tests need root (Open vSwitch, network namespaces)")
    pytest.importorskip("mininet.net", reason="Debian's mininet package is not importable")
    return importlib.import_module(f"controller.lab.{name}")


def started_lab(mininet_lab, topo, request, settings: dict, ready=None):
    """Yield a ``MininetLab`` started and ready (and ``ready(lab)`` run, if given), with the
    controller's log printed when starting fails or a test of the session failed; stopped and
    cleaned up after. For ``yield from`` in a fixture."""
    from mininet.clean import cleanup

    cleanup()
    lab = mininet_lab.MininetLab(topo, settings=settings)
    try:
        lab.start()
        lab.wait_until_ready()
        if ready is not None:
            ready(lab)
    except BaseException:
        print(lab.controller_log()[-3000:])
        lab.stop()
        raise
    yield lab
    if request.session.testsfailed:
        print(lab.controller_log()[-3000:])
    lab.stop()
    cleanup()


def dashboard_page(rest_port: int, updates: int = 2):
    """Yield headless chromium showing the dashboard served on ``rest_port``, after ``updates``
    of its polls; quit after. For ``yield from`` in a fixture."""
    from controller.lab.browser import dashboard_url, headless_chromium, wait_for_updates

    driver = headless_chromium()
    driver.get(dashboard_url(rest_port))
    wait_for_updates(driver, updates)
    yield driver
    driver.quit()
