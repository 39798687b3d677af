"""Integration tier: the fast forms of the reliability checks of bad input from outside the
network (controller/lab/reliability_inputs.py), judged by their own pass rules; the full forms
run in ``make reliability``. Root only."""
from __future__ import annotations

import pytest

from tests.lab_helpers import lab_module

pytestmark = pytest.mark.mininet


@pytest.fixture
def inputs():
    return lab_module("reliability_inputs")


def test_rest_fuzz_gets_no_server_error_and_the_network_keeps_forwarding(inputs):
    result = inputs.rest_fuzz(requests=300, seed=3)
    assert result.passed, (result.figure, result.details)


def test_a_truncated_checkpoint_is_reported_and_shortest_path_routes(inputs):
    result = inputs.bad_checkpoints(cases=("truncated",))
    assert result.passed, (result.figure, result.details)
    assert "truncated" in result.details
