"""The decision log (controller.decision_log): kinds, the bounded ring, MLU after, the file."""
from __future__ import annotations

import json

import pytest

from controller.decision_log import DecisionLog, decision_kind, pair_changes, periodic_only_while_idle
from controller.tunnels import Change


def logged(log, now=100.0, reasons=("periodic",), **extra):
    values = dict(wall=1_764_600_000.5, now=now, reasons=list(reasons), policy="qnn", fallback="",
                  decision_s=0.0123, install_s=0.04, changes=[], predicted_mlu=0.5,
                  mlu_before=0.8, epoch=3)
    values.update(extra)
    return log.record(**values)


@pytest.mark.parametrize("reasons, kind", [
    (["link 2-3 down"], "failure"),
    (["link 2-3 lost", "periodic"], "failure"),
    (["switch 4 left"], "failure"),
    (["periodic", "host 00:00:00:00:00:01 seen"], "timer"),
    (["host 00:00:00:00:00:01 seen"], "host"),
    (["operator drain 2-3"], "operator"),
    (["pin 1-3"], "operator"),
    (["unpin 1-3", "host 00:00:00:00:00:02 seen"], "host"),
    (["resync done"], "start"),
    (["switch 3 read back"], "start"),
    (["link 2-3 up"], "start"),
])
def test_a_decision_is_of_the_first_kind_one_of_its_reasons_is(reasons, kind):
    assert decision_kind(reasons) == kind


def test_records_are_numbered_from_one_and_the_ring_keeps_the_latest():
    log = DecisionLog(size=3, stats_interval=2.0)
    for _ in range(5):
        logged(log)
    assert [entry["number"] for entry in log.describe()["decisions"]] == [3, 4, 5]
    assert log.describe()["size"] == 3
    assert [entry["number"] for entry in log.describe(since=3)["decisions"]] == [4, 5]
    assert log.describe(since=5)["decisions"] == [] and len(log.describe(since=0)["decisions"]) == 3


def test_a_record_holds_what_the_contract_names_in_its_units():
    entry = logged(DecisionLog(200, 2.0, run=1_764_599_990.0), reasons=["link 2-3 down", "periodic"])
    assert entry == {"number": 1, "run": 1_764_599_990.0, "time": 1_764_600_000.5,
                     "reasons": ["link 2-3 down", "periodic"],
                     "kind": "failure", "policy": "qnn", "fallback": "", "decision_ms": 12.3,
                     "install_ms": 40.0, "aborted": [], "changes": [],
                     "moved": {"new": 0, "rerouted": 0, "reweighted": 0, "removed": 0},
                     "predicted_mlu": 0.5, "mlu_before": 0.8, "mlu_after": None, "epoch": 3}
    json.dumps(entry)


def test_mlu_after_is_the_first_measurement_one_stats_interval_after_the_decision():
    log = DecisionLog(200, stats_interval=2.0)
    entry = logged(log, now=100.0)
    log.measured(0.9, now=101.0)   # half an interval on: still the traffic of before
    assert entry["mlu_after"] is None
    log.measured(None, now=102.5)  # nothing measured yet
    assert entry["mlu_after"] is None
    log.measured(0.42, now=102.5)
    log.measured(0.99, now=105.0)  # later measurements do not overwrite it
    assert entry["mlu_after"] == 0.42


def test_the_file_gets_each_record_once_it_is_complete(tmp_path):
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(200, stats_interval=2.0, file=str(path))
    logged(log, now=100.0)
    assert not path.exists()  # its MLU after is not known yet
    log.measured(0.3, now=102.0)
    logged(log, now=103.0)
    logged(log, now=104.0)  # the second one completes without its MLU after
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["number"], line["mlu_after"]) for line in lines] == [(1, 0.3), (2, None)]


def test_a_file_that_cannot_be_written_is_reported_and_the_ring_goes_on(tmp_path):
    log = DecisionLog(200, stats_interval=1.0, file=str(tmp_path / "no such folder" / "d.jsonl"))
    logged(log, now=0.0)
    logged(log, now=1.0)
    assert "cannot be written" in log.problem and len(log.records) == 2


def test_pair_changes_name_each_moved_pair_with_its_new_split():
    change = Change(new=[(3, 1)], rerouted=[(1, 3)], reweighted=[(2, 5)], dropped=[(4, 1)], entries=9)
    splits = {(1, 3): (((1, 5, 4, 3), 0.25), ((1, 2, 3), 0.75)), (3, 1): (((3, 2, 1), 1.0),),
              (2, 5): (((2, 1, 5), 0.5), ((2, 3, 4, 5), 0.5))}
    assert pair_changes(change, splits) == [
        {"src": 1, "dst": 3, "paths": [[1, 5, 4, 3], [1, 2, 3]], "weights": [0.25, 0.75],
         "change": "rerouted"},
        {"src": 2, "dst": 5, "paths": [[2, 1, 5], [2, 3, 4, 5]], "weights": [0.5, 0.5],
         "change": "reweighted"},
        {"src": 3, "dst": 1, "paths": [[3, 2, 1]], "weights": [1.0], "change": "new"},
        {"src": 4, "dst": 1, "paths": [], "weights": [], "change": "removed"}]
    entry = logged(DecisionLog(10, 1.0), changes=pair_changes(change, splits))
    assert entry["moved"] == {"new": 1, "rerouted": 1, "reweighted": 1, "removed": 1}


def test_the_log_names_its_run_and_latest_number_even_when_nothing_is_newer():
    log = DecisionLog(2, stats_interval=2.0, run=1_764_600_000.25)
    for now in (100.0, 101.0, 102.0):
        logged(log, now=now)
    assert log.describe(since=7) == {"size": 2, "run": 1_764_600_000.25, "latest": 3, "decisions": []}
    assert [(d["number"], d["run"]) for d in log.describe()["decisions"]] == \
        [(2, 1_764_600_000.25), (3, 1_764_600_000.25)]


def test_a_fifo_is_refused_without_blocking_and_each_change_of_problem_logged_once(tmp_path, caplog):
    import logging
    import os

    fifo = tmp_path / "decisions.fifo"
    os.mkfifo(fifo)
    log = DecisionLog(200, stats_interval=2.0, file=str(fifo))
    caplog.set_level(logging.WARNING, logger="qroute.decision_log")
    logged(log, now=100.0)
    logged(log, now=101.0)  # completes the first: no reader, the open does not wait for one
    assert "cannot be written" in log.problem and str(fifo) in log.problem
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        logged(log, now=102.0)  # with a reader: still not a regular file
        assert "not a regular file" in log.problem
        assert os.read(reader, 100) == b""  # nothing was written into it
    finally:
        os.close(reader)
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(problems) == 2 and "No such device" in problems[0] and "not a regular file" in problems[1]
    log.file = str(tmp_path / "decisions.jsonl")
    logged(log, now=103.0)
    assert log.problem == "" and "written again" in caplog.records[-1].getMessage()
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(line)["number"] for line in lines] == [3]


def test_only_the_timer_alone_on_a_network_below_reoptimize_above_is_not_worth_a_decision():
    assert periodic_only_while_idle(["periodic"], 0.49, 0.5)
    assert periodic_only_while_idle(["periodic", "periodic"], 0.0, 0.5)
    assert not periodic_only_while_idle(["periodic"], 0.5, 0.5)  # reached: it runs
    assert not periodic_only_while_idle(["periodic"], 0.1, 0.0)  # 0: every one runs
    assert not periodic_only_while_idle(["periodic"], None, 0.5)  # nothing measured yet
    for other in ("host 00:00:00:00:00:01 at 1:1", "link 1-2 down", "reoptimize (REST)"):
        assert not periodic_only_while_idle(["periodic", other], 0.1, 0.5)
    assert not periodic_only_while_idle([], 0.1, 0.5)
