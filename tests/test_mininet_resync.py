"""Hitless restart in Mininet: the real ryu-manager killed (-9) and started again under a
100 pps ping stream on Abilene; judged by issue 15's target (see
controller.lab.reliability_resync)."""
import os

import pytest

pytestmark = pytest.mark.mininet


def test_restart_controller_kill_9_under_a_100_pps_stream_loses_nothing_and_keeps_every_rule():
    if os.geteuid() != 0:
        pytest.skip("Mininet tests need root (Open vSwitch, network namespaces)")
    reliability = pytest.importorskip("controller.lab.reliability_resync",
                                      reason="Debian's mininet package is not importable")
    pytest.importorskip("mininet.net", reason="Debian's mininet package is not importable")
    result = reliability.check_kill_and_restart(down_s=3.0)
    print(result.figure)
    details = result.details
    assert details["lost"] == 0, result.figure
    assert details["resync_s"] is not None and details["resync_s"] <= 10.0, result.figure
    assert details["deleted"] == [] and details["replaced"] == [], result.figure
    assert details["groups_changed"] == [], result.figure
    assert details["kept"] > 0 and result.passed
