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
