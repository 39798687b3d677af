"""Integration tier: the fast forms of the reliability checks of bad input from outside the
network (controller/lab/reliability_inputs.py), judged by their own pass rules; the full forms
run in ``make reliability``. Root only."""
from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.mininet


@pytest.fixture(autouse=True)
def needs_root():
    if os.geteuid() != 0:
        pytest.skip("Mininet tests need root (Open vSwitch, network namespaces)")
    pytest.importorskip("controller.lab.mininet_lab", reason="Debian's mininet package is not importable")


def test_rest_fuzz_gets_no_server_error_and_the_network_keeps_forwarding():
    from controller.lab.reliability_inputs import rest_fuzz

    result = rest_fuzz(requests=300, seed=3)
    assert result.passed, (result.figure, result.details)


def test_a_truncated_checkpoint_is_reported_and_shortest_path_routes():
    from controller.lab.reliability_inputs import bad_checkpoints

    result = bad_checkpoints(cases=("truncated",))
    assert result.passed, (result.figure, result.details)
    assert "truncated" in result.details
