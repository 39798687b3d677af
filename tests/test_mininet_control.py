"""Integration tier: the control API on a real network (ryu-manager, Open vSwitch, Mininet) on
the diamond (s1 to s4 over s2 or s3): a link drained under a ping stream, read back from the
switch, and the policy switched at run time. Root-only; skipped (failing under CI=true) without.
"""
import re
import subprocess
import time

import pytest

from tests.test_mininet import _lab, mininet_lab  # noqa: F401  (the lab fixture)

pytestmark = pytest.mark.mininet

# As the forced-change test: of 3 drains under a 100 pps stream, at least 2 lose nothing and none
# loses more than 3 packets (a busy machine may delay one reply past ping's deadline).
DRAIN_TRIALS, LOSSLESS_AT_LEAST, MOST_LOST = 3, 2, 3
# what a port unused by the pair still sends in the 2 s measured (LLDP, ARP): far under the
# stream's 200 packets
IDLE_PACKETS = 20


@pytest.fixture(scope="class")
def diamond(mininet_lab, request):  # noqa: F811
    from topologies.mininet_topos import DiamondTopo

    yield from _lab(mininet_lab, DiamondTopo(), request, reoptimize_interval="30.0")


def _port_number(interface: str) -> int:
    return int(subprocess.run(["ovs-vsctl", "get", "interface", interface, "ofport"],
                              capture_output=True, text=True, check=True).stdout)


def _tx_packets(switch: str, port: int) -> int:
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", switch, str(port)],
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"tx pkts=(\d+)", out).group(1))


def _slow_write(lab, method, part, body, timeout=60.0):
    """lab.rest_write with a longer wait for the answer."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{lab.rest_port}/qroute/v1/{part}", data=json.dumps(body).encode(),
        method=method, headers={"Authorization": f"Bearer {lab.settings['api_token']}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait_off(lab, link, timeout=10.0):
    """The path h1 -> h4 once it no longer uses `link` (and no decision is under way)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path, state = lab.path_between("h1", "h4"), lab.rest("state")
        if path and tuple(link) not in set(zip(path, path[1:])) and not state["rerouting"]:
            return path
        time.sleep(0.1)
    raise TimeoutError(f"h1 -> h4 still on {link}: {lab.path_between('h1', 'h4')}")


class TestControl:
    def test_a_drained_link_loses_its_traffic_without_loss_and_undrained_takes_it_again(self, diamond):
        lab = diamond
        assert lab.ping_all() == 0.0
        losses = []
        for _trial in range(DRAIN_TRIALS):
            path = lab.wait_for_path("h1", "h4")
            link = (path[0], path[1])  # s1's hop: its port counter shows where s1 sends the pair
            port = _port_number(lab.link_interfaces(*link)[0])
            stream = lab.start_ping_stream("h1", "h4", count=100 * 6)  # 6 s at 100 pps
            time.sleep(1.0)
            status, reply = lab.rest_write("POST", f"links/{link[0]}-{link[1]}/drain")
            assert (status, reply["changed"]) == (200, True), reply
            moved = _wait_off(lab, link)
            time.sleep(0.5)
            before = _tx_packets(f"s{link[0]}", port)
            time.sleep(2.0)
            sent = _tx_packets(f"s{link[0]}", port) - before
            losses.append(lab.finish_ping_stream(stream).lost)
            assert sent < IDLE_PACKETS, f"s{link[0]} port {port} still sent {sent} packets after the drain"
            links = {(entry["src"], entry["dst"]): entry["drained"] for entry in lab.rest("links")}
            assert links[link] and links[link[::-1]], links
            reason = f"operator drain {link[0]}-{link[1]}"
            decision = [d for d in lab.rest("decisions")["decisions"] if reason in d["reasons"]][-1]
            assert decision["kind"] == "operator"
            assert any(change["src"] == 1 and change["dst"] == 4 and change["paths"] == [moved]
                       for change in decision["changes"]), decision
            # the other path's link cannot go too: s1 and s4 would be cut apart
            status, _ = lab.rest_write("POST", f"links/{moved[0]}-{moved[1]}/drain")
            assert status == 409
            assert lab.rest_write("POST", f"links/{link[0]}-{link[1]}/undrain")[1]["changed"] is True
            # back in the graph: the next trial drains the path now in use, and the pair takes it
        print(f"packets lost per drain: {losses}")
        assert sum(lost == 0 for lost in losses) >= LOSSLESS_AT_LEAST and max(losses) <= MOST_LOST, losses
        assert lab.ping_all() == 0.0

    def test_a_switch_process_frozen_during_a_plan_stops_it_and_the_read_back_finishes_it(self, diamond):
        """ovs-vswitchd (every switch of the lab) stopped while a drain is planned: no barrier
        reply comes within barrier_timeout, so the plan stops after its first phase; once the
        switches run again they answer the read-back, and the decision after it moves the pair
        off the link: the drained port stays idle under a stream and every pair still pings."""
        import os
        import signal

        lab = diamond
        assert lab.ping_all() == 0.0
        path = lab.wait_for_path("h1", "h4")
        link = (path[0], path[1])
        port = _port_number(lab.link_interfaces(*link)[0])
        numbers_before = {d["number"] for d in lab.rest("decisions")["decisions"]}
        vswitchd = int(subprocess.run(["pidof", "ovs-vswitchd"], capture_output=True, text=True,
                                      check=True).stdout.split()[0])
        frozen_s = lab.rest("state")["settings"]["barrier_timeout"] + 1.5
        os.kill(vswitchd, signal.SIGSTOP)
        try:
            status, reply = lab.rest_write("POST", f"links/{link[0]}-{link[1]}/drain")
            assert (status, reply["changed"]) == (200, True), reply
            time.sleep(frozen_s)  # under the echo timeout: the connections stay up
        finally:
            os.kill(vswitchd, signal.SIGCONT)
        try:
            moved = _wait_off(lab, link, timeout=30.0)
            new = [d for d in lab.rest("decisions")["decisions"] if d["number"] not in numbers_before]
            stopped = [d for d in new if d["aborted"]]
            assert stopped and stopped[0]["changes"] == [], new
            finished = [d for d in new if d["number"] > stopped[0]["number"] and any(
                (c["src"], c["dst"], c["paths"]) == (1, 4, [moved]) for c in d["changes"])]
            assert finished and finished[0]["aborted"] == [], new
            assert "stopped: no barrier reply within" in lab.controller_log()
            stream = lab.start_ping_stream("h1", "h4", count=100 * 3)
            time.sleep(0.5)
            before = _tx_packets(f"s{link[0]}", port)
            time.sleep(2.0)
            sent = _tx_packets(f"s{link[0]}", port) - before
            assert lab.finish_ping_stream(stream).lost == 0
            assert sent < IDLE_PACKETS, f"s{link[0]} port {port} still sent {sent} packets after the drain"
            assert lab.ping_all() == 0.0
        finally:
            lab.rest_write("POST", f"links/{link[0]}-{link[1]}/undrain")

    def test_the_policy_switched_to_qnn_decides_and_is_recorded(self, diamond):
        lab = diamond
        assert lab.ping_all() == 0.0
        assert lab.rest("policy")["policy_name"] == "shortest-path"
        # the first learned policy imports torch and TorchQuantum in the controller: seconds
        status, reply = _slow_write(lab, "PUT", "policy", {"policy": "qnn"})
        assert status == 200 and reply["policy_name"] == "qnn", reply
        lab.require_policy("qnn")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            decisions = lab.rest("decisions")["decisions"]
            recorded = [d for d in decisions if "operator policy qnn" in d["reasons"]]
            if recorded:
                break
            time.sleep(0.2)
        assert recorded and recorded[-1]["policy"] == "qnn" and recorded[-1]["fallback"] == "", recorded
        assert lab.rest("topology")["policy"] == "qnn"
        assert lab.ping_all() == 0.0
        status, reply = _slow_write(lab, "PUT", "policy", {"policy": "qnn", "checkpoint": "/nonexistent.pt"})
        assert status == 400 and lab.rest("policy")["policy_name"] == "qnn"
        assert lab.rest_write("PUT", "policy", {"policy": "shortest-path"})[0] == 200

    def test_a_thousand_random_requests_over_http_get_no_5xx_and_forwarding_goes_on(self, diamond):
        import http.client
        import random
        import urllib.parse

        from tests.test_control_api import random_request

        lab = diamond
        assert lab.ping_all() == 0.0
        log_before = len(lab.controller_log())
        rng = random.Random(1616)
        statuses = []
        for _ in range(1000):
            method, path, headers, body = random_request(rng, token=lab.settings["api_token"])
            connection = http.client.HTTPConnection("127.0.0.1", lab.rest_port, timeout=10)
            connection.request(method, urllib.parse.quote(path, safe="/?=&%-."), body=body,
                               headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
            statuses.append(response.status)
            assert response.status < 500, (method, path, headers, body[:80])
        print(f"statuses: {sorted(set(statuses))}")
        # qroute.rest logs a request it did not foresee (a bug) as "REST <method> <path> failed"
        unforeseen = re.findall(r"^REST [A-Z]+ .* failed$", lab.controller_log()[log_before:], re.M)
        assert unforeseen == [], unforeseen[:5]
        for link in lab.rest("state")["drained"]:
            lab.rest_write("POST", f"links/{link['src']}-{link['dst']}/undrain")
        lab.rest_write("PUT", "policy", {"policy": "shortest-path"})
        for pin in lab.rest("pins"):
            lab.rest_write("DELETE", f"pins/{pin['src']}-{pin['dst']}")
        assert lab.ping_all() == 0.0
