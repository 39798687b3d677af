"""Hostile hosts and the OpenFlow channel, for real: ryu-manager, Open vSwitch (userspace
datapath) and Mininet hosts, through the checks of controller.lab.reliability_edge (each its own
lab, well under a minute). The pass rules are the issue's targets: a flood and spoofed sources
leave other hosts' RTT p50 and REST p50 within 2x their baseline and the rules within the
limits' bound, and the switch stays connected; a host claiming another's IP or MAC does not cut
it off; switches connect over TLS and a plain-TCP client is not answered; a second connection
does not take a connected switch's dpid. Root only; skipped otherwise (failing under CI=true,
see conftest.py)."""
import pytest

from tests.lab_helpers import lab_module

pytestmark = pytest.mark.mininet


@pytest.fixture(scope="module")
def edge():
    return lab_module("reliability_edge")


def _check(result):
    print(f"{result.name}: {result.figure}")
    assert result.passed, f"{result.pass_rule}; measured: {result.figure}"
    return result.details


def test_a_flood_from_spoofed_sources_leaves_others_within_twice_their_baseline(edge):
    details = _check(edge.check_packet_in_flood())
    assert details["rtt_flood"] <= 2 * details["rtt_base"]
    assert details["rest_flood"] <= 2 * details["rest_base"]
    assert all(details["rules_during"][s] <= details["rule_bound"][s] for s in details["rule_bound"])
    assert details["hosts"] <= details["real_hosts"] + edge.MAX_HOSTS_PER_PORT - 1
    assert details["connections"] == 3 and details["edge"]["ports_blocked_total"] >= 1


def test_a_host_claiming_another_hosts_ip_or_mac_does_not_cut_it_off(edge):
    details = _check(edge.check_ip_takeover())
    assert details["lost"] == 0 and details["after"] == 5
    assert details["holder"]["mac"] == "00:00:00:00:00:03"
    assert details["refused"].get("ip_claim_answered", 0) >= 1
    assert details["refused"].get("move_answered", 0) >= 1


def test_switches_connect_over_tls_and_plain_tcp_is_not_answered(edge):
    details = _check(edge.check_tls_channel())
    assert all(target.startswith("ssl:") for target in details["targets"].values())
    assert details["loss"] == 0.0 and not details["plain_tcp_answered"]


def test_a_second_connection_does_not_take_a_connected_switchs_dpid(edge):
    details = _check(edge.check_dpid_takeover())
    assert details["refused"] >= 1 and details["lost"] == 0
    assert details["accepted_when_gone"]
