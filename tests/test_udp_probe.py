"""The never-pausing probe stream that measures outages in the reliability checks."""
import random
import socket
import subprocess
import sys
import time

import pytest

from controller.lab.udp_probe import ProbeResult, read_result


def _uniform(count, lost, interval_s=0.001):
    return ProbeResult(sent_at=[100.0 + i * interval_s for i in range(count)],
                       received=frozenset(set(range(count)) - set(lost)), interval_s=interval_s)


def test_loss_runs_are_the_consecutive_missing_sequence_numbers():
    result = _uniform(30, {5, 6, 7, 20, 29})
    assert [(run.first, run.count) for run in result.loss_runs()] == [(5, 3), (20, 1), (29, 1)]
    assert result.lost == 5
    assert result.outage_ms() == pytest.approx(3.0)
    assert result.longest_run().first == 5


def test_nothing_lost_is_no_outage():
    result = _uniform(10, set())
    assert result.loss_runs() == [] and result.outage_ms() == 0.0 and result.longest_run() is None


def test_a_late_send_inside_a_run_lengthens_it_by_its_real_time():
    # the sender was held back 40 ms between probes 3 and 4, both lost: the run spans that time
    sent = [0.000, 0.001, 0.002, 0.003, 0.043, 0.044]
    result = ProbeResult(sent_at=sent, received=frozenset({0, 1, 2, 5}), interval_s=0.001)
    assert result.outage_ms() == pytest.approx(41.0)


def test_longest_run_matches_a_brute_force_scan():
    rng = random.Random(7)
    for _ in range(200):
        count = rng.randint(1, 60)
        lost = {seq for seq in range(count) if rng.random() < 0.3}
        result = _uniform(count, lost)
        bits = "".join("x" if seq in lost else "." for seq in range(count))
        longest = max((len(run) for run in bits.split(".")), default=0)
        assert result.outage_ms() == pytest.approx(longest * 1.0)
        assert sum(run.count for run in result.loss_runs()) == len(lost)


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _send(port, out, seconds=0.3, rate=1000):
    sender = subprocess.run([sys.executable, "-m", "controller.lab.udp_probe", "send", "127.0.0.1",
                             str(port), str(rate), str(seconds), str(out)],
                            capture_output=True, text=True, timeout=30)
    assert sender.returncode == 0, sender.stderr
    assert sender.stdout.strip() == "sending"
    return read_result(str(out), 1.0 / rate)


def test_over_loopback_every_probe_comes_back(tmp_path):
    port = _free_udp_port()
    reflector = subprocess.Popen([sys.executable, "-m", "controller.lab.udp_probe", "echo", str(port)],
                                 stdout=subprocess.PIPE, text=True)
    try:
        assert reflector.stdout.readline().strip() == "ready"
        result = _send(port, tmp_path / "probe.json")
    finally:
        reflector.kill()
        reflector.wait()
    assert len(result.sent_at) == 300
    assert result.lost == 0 and result.outage_ms() == 0.0
    # sent on schedule: the stream took its 0.3 s, not a burst
    assert 0.29 <= result.sent_at[-1] - result.sent_at[0] <= 0.6


def test_without_a_reflector_the_whole_stream_is_one_outage(tmp_path):
    result = _send(_free_udp_port(), tmp_path / "probe.json")
    assert result.lost == 300
    assert len(result.loss_runs()) == 1
    assert result.outage_ms() == pytest.approx((result.sent_at[-1] - result.sent_at[0]) * 1000 + 1.0, abs=0.1)
    assert time.time() - result.sent_at[-1] < 30
