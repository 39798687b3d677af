"""Master election through a real etcd (Debian's etcd-server, started here on loopback): one
leader at a time, a new leader with a higher generation when the old one stops refreshing or
resigns, and a leader that loses etcd steps down within its lease."""
from __future__ import annotations

import pytest

from controller.leadership import Leadership


@pytest.fixture
def etcd():
    from controller.lab.etcd_server import EtcdServer

    with EtcdServer() as server:
        yield server


def test_the_first_campaign_leads_and_the_second_sees_it_as_holder(etcd):
    a, b = Leadership(etcd.client(), "a", ttl_s=2), Leadership(etcd.client(), "b", ttl_s=2)
    first = a.step(0.0)
    second = b.step(0.0)
    assert first.leading and first.holder == "a" and first.generation > 0
    assert not second.leading and second.holder == "a" and second.generation == first.generation
    assert a.step(0.5).leading and not b.step(0.5).leading  # kept by refreshing


def test_a_resigned_leader_is_followed_by_another_with_a_higher_generation(etcd):
    a, b = Leadership(etcd.client(), "a", ttl_s=2), Leadership(etcd.client(), "b", ttl_s=2)
    old = a.step(0.0)
    b.step(0.0)
    a.resign()
    new = b.step(1.0)
    assert new.leading and new.holder == "b" and new.generation > old.generation
    assert not a.step(1.0).leading


def test_a_leader_that_stops_refreshing_loses_the_key_when_its_lease_runs_out(etcd):
    import time

    a, b = Leadership(etcd.client(), "a", ttl_s=2), Leadership(etcd.client(), "b", ttl_s=2)
    old = a.step(0.0)   # a then "dies": it never steps again
    deadline = time.monotonic() + 10
    while not b.step(time.monotonic()).leading:
        assert time.monotonic() < deadline, "b never took over after a's lease ran out"
        time.sleep(0.2)
    assert b.term.generation > old.generation


def test_a_leader_cut_off_from_etcd_steps_down_after_its_ttl(etcd):
    a = Leadership(etcd.client(timeout=0.3), "a", ttl_s=2)
    assert a.step(0.0).leading
    etcd.pause()
    try:
        assert a.step(1.0).leading          # within the lease: still the master
        assert "etcd" in a.problem
        assert not a.step(2.5).leading      # past it: another may lead now
    finally:
        etcd.resume()


GREEN_STEP = """
import eventlet
eventlet.monkey_patch(thread=False)   # as ryu-manager's hub.patch does
import time
from controller.lab.etcd_server import EtcdServer
from controller.leadership import Leadership

with EtcdServer() as etcd:
    lead = Leadership(etcd.client(timeout=1.0), "a", 3)
    assert lead.step(time.monotonic()).leading
    gaps = []

    def ticker():
        last = time.monotonic()
        for _ in range(150):
            eventlet.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticks = eventlet.spawn(ticker)
    etcd.pause()
    started = time.monotonic()
    lead.step(time.monotonic())
    waited = time.monotonic() - started
    etcd.resume()
    ticks.wait()
    print(f"{waited:.3f} {max(gaps):.3f} {lead.problem!r}")
"""


def test_a_step_waiting_on_a_stopped_etcd_does_not_block_other_greenthreads():
    """Under ryu-manager sockets are green: the app's campaign greenthread calls etcd3gw
    directly, so a step that waits for an unanswering etcd must leave the event loop running."""
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", GREEN_STEP], cwd=root, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr
    waited, longest_gap, problem = result.stdout.split(" ", 2)
    assert float(waited) >= 0.9 and "Timeout" in problem   # it did wait on etcd, to its timeout
    assert float(longest_gap) < 0.1                        # while 10 ms ticks went on
