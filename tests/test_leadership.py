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
