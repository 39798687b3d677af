"""Flow-table exhaustion on one bridge (Open vSwitch flow_limit, overflow_policy=refuse) with the
real controller: the issue's pass rule, through controller.lab.reliability_guards."""
import os

import pytest

pytestmark = pytest.mark.mininet


@pytest.fixture
def reliability_guards():
    if os.geteuid() != 0:
        pytest.skip("Mininet tests need root (Open vSwitch, network namespaces)")
    pytest.importorskip("controller.lab.mininet_lab", reason="Debian's mininet package is not importable")
    from mininet.clean import cleanup

    from controller.lab import reliability_guards

    cleanup()
    yield reliability_guards
    cleanup()


def test_refused_rules_are_tied_shown_not_installed_fallen_back_and_the_rest_forwards(reliability_guards):
    result = reliability_guards.flow_table_exhaustion(flow_limit=8, switch=2, ring=4)
    details = result.details
    assert details["untied"] == [], details["error_lines"]
    assert {(e["type"], e["code"]) for e in details["errors"]} == {
        ("OFPET_FLOW_MOD_FAILED", "OFPFMFC_TABLE_FULL")}
    assert details["not_installed"], details
    assert all("OFPFMFC_TABLE_FULL" in why for why in details["not_installed"].values())
    assert all(details["pings"].values()) and details["pings"], details["pings"]
    assert result.passed, (result.figure, details)
