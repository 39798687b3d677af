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


def test_switches_with_open_vswitchs_48_bit_dpids_are_routed_and_survive_a_restart_without_state():
    """Open vSwitch's default dpids do not fit a group id; qroute folds them (controller.group_ids).
    With no state file the restarted controller meets the switches one at a time, and a select
    group towards one not connected yet is left as it is until it is: nothing is lost or
    changed in the switches. Switch s3 connects 3 s after the others, so that they are read
    back first."""
    if os.geteuid() != 0:
        pytest.skip("Mininet tests need root (Open vSwitch, network namespaces)")
    reliability = pytest.importorskip("controller.lab.reliability_resync",
                                      reason="Debian's mininet package is not importable")
    pytest.importorskip("mininet.net", reason="Debian's mininet package is not importable")
    result = reliability.check_kill_and_restart(down_s=2.0, topology="ring-ovs-dpids", src="h1",
                                                dst="h3", state_file=False, late=("s3",))
    print(result.figure)
    details = result.details
    # the others were read back before s3 connected: their groups towards it waited for it
    assert details["read_backs_waiting_for_a_switch"] >= 3, result.figure
    assert details["lost"] == 0 and details["transmitted"] > 0, result.figure
    assert details["deleted"] == [] and details["replaced"] == [], result.figure
    assert details["groups_changed"] == [], result.figure
    assert details["kept"] > 0 and result.passed, result.figure


def test_hosts_answering_arp_behind_a_switch_with_known_hosts_are_learned():
    """Only broadcast ARP goes to the controller: h3's unicast answer to h1's request would
    follow the classification rules s2 has for h1 (s2 has a known host, h2) and never teach
    the controller where h3 is; the controller's ARP probe makes h3 answer it."""
    if os.geteuid() != 0:
        pytest.skip("Mininet tests need root (Open vSwitch, network namespaces)")
    lab_module = pytest.importorskip("controller.lab.mininet_lab",
                                     reason="Debian's mininet package is not importable")
    from mininet.clean import cleanup
    from mininet.topo import Topo

    class TwoHostsBehindOneSwitch(Topo):
        def build(self):
            for n in (1, 2):
                self.addSwitch(f"s{n}", dpid=f"{n:016x}")
            self.addLink("s1", "s2")
            for n, switch in ((1, "s1"), (2, "s2"), (3, "s2")):
                self.addHost(f"h{n}", ip=f"10.0.0.{n}/24", mac=f"00:00:00:00:00:{n:02x}")
                self.addLink(f"h{n}", switch)

    cleanup()
    with lab_module.MininetLab(TwoHostsBehindOneSwitch()) as lab:
        lab.wait_until_ready()
        assert lab.ping_all() == 0.0
        assert {host["mac"] for host in lab.rest("hosts")} == {f"00:00:00:00:00:0{n}" for n in (1, 2, 3)}
    cleanup()
