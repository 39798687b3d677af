"""Malformed OpenFlow from a fake switch against a real ryu-manager running qroute (plain TCP on a
free local port, no root): the controller stays up, serves REST and the switch that behaves, and
accepts a new one afterwards."""
import pytest

from controller.lab.fake_switch import MALFORMED
from controller.lab.reliability_guards import malformed_openflow

pytestmark = pytest.mark.slow


def test_every_kind_of_malformed_message_leaves_the_controller_serving():
    result = malformed_openflow()
    failed = {kind: outcome for kind, outcome in result.details["kinds"].items()
              if not outcome["alive"] or outcome["rest_ms"] is None or outcome["good_switch_echo_ms"] is None}
    assert failed == {}, result.details["controller_log_tail"]
    assert set(result.details["kinds"]) == set(MALFORMED)
    assert result.details["good_switch_kept"] and result.details["new_switch_joined"]
    assert result.passed, result.figure
    # the malformed messages were seen and dropped by the parser (logged), not taken as valid
    assert result.details["parse_errors_logged"] >= 10
