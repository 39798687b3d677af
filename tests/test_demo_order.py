"""`make demo`'s order of steps with the labs scripted (the real run: make demo, test_mininet):
the dashboard's screenshot is its last step, taken after the heavy-traffic race on a network
brought up for it, and a failed screenshot fails the demo."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from controller.lab import demo

pytest.importorskip("mininet.clean")


class ScriptedLab:
    started: list = []

    def __init__(self, topo, settings=None, tls=False):
        self.settings = settings

    def __enter__(self):
        ScriptedLab.started.append(self)
        return self

    def __exit__(self, *exc):
        return False

    def wait_until_ready(self, **_):
        pass

    def rest(self, part):
        links = [{"src": 1, "dst": 2, "utilisation": 0.5, "capacity_bps": 1e7}]
        return {"state": {"switches": [1, 2], "links": links, "pairs": [], "tunnels": 0},
                "links": links}[part]

    def ping_all(self):
        return 0.0

    def iperf3(self, *_, **__):
        return {"end": {"sum_received": {"bits_per_second": 5e6}}}

    def path_between(self, *_):
        return [1, 2]

    def set_link(self, *_, **__):
        pass

    def wait_for_all_links(self):
        return 2

    def expected_directed_links(self):
        return 2


@pytest.fixture
def scripted(monkeypatch, capsys):
    import mininet.clean

    from controller.lab import mininet_lab

    ScriptedLab.started = []
    steps = []
    monkeypatch.setattr(mininet.clean, "cleanup", lambda: steps.append("cleanup"))
    monkeypatch.setattr(mininet_lab, "MininetLab", ScriptedLab)
    stream = SimpleNamespace(outage_s=0.05, lost=1, sent=600)
    monkeypatch.setattr(mininet_lab, "measure_failover", lambda *a, **k: SimpleNamespace(
        failed_link=(1, 2), stream=stream, path_before=[1, 2], path_after=[1, 3, 2]))
    monkeypatch.setattr(demo, "busiest_pair", lambda seed: (0, 1, "synthetic"))
    monkeypatch.setattr(demo, "heavy_traffic_race",
                        lambda timeline, seed: (steps.append("race"), timeline.say("race", "done")))
    return steps


def test_the_screenshot_is_the_last_step_on_a_network_brought_up_after_the_race(scripted, monkeypatch,
                                                                               capsys, tmp_path):
    def shot(lab, src, dst, path):
        scripted.append(("screenshot", ScriptedLab.started.index(lab)))
        return f"saved to {path}"

    monkeypatch.setattr(demo, "dashboard_screenshot", shot)
    assert demo.run_demo(7, screenshot=str(tmp_path / "d.png")) == 0
    assert scripted.index("race") < scripted.index(("screenshot", 1))  # the second lab, after the race
    lines = capsys.readouterr().out.splitlines()
    assert "dashboard" in lines[-2] and "saved to" in lines[-2] and lines[-1] == "demo: all steps passed"


def test_a_screenshot_that_fails_fails_the_demo(scripted, monkeypatch, capsys, tmp_path):
    def broken(*_):
        raise RuntimeError("no chromium")

    monkeypatch.setattr(demo, "dashboard_screenshot", broken)
    assert demo.run_demo(7, screenshot=str(tmp_path / "d.png")) == 1
    assert "dashboard" in capsys.readouterr().err
