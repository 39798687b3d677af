"""The state file: what is written comes back, a bad file is refused naming why, and a write
that fails part-way leaves the previous file whole."""
from __future__ import annotations

import json
import os

import pytest

from controller import state_file
from controller.netstate import HostLocation

HOSTS = {"00:00:00:00:00:01": HostLocation("00:00:00:00:00:01", 1, 1, "10.0.0.1"),
         "00:00:00:00:00:03": HostLocation("00:00:00:00:00:03", 3, 1, None)}
LINKS = {(1, 2): (2, 3), (2, 1): (3, 2), (2, 3): (2, 3), (3, 2): (3, 2)}
LABELS = {(1, 2, 3): 1, (3, 2, 1): 2}
SPLITS = {(1, 3): (((1, 2, 3), 1.0),), (3, 1): (((3, 2, 1), 1.0),)}


def saved(**changes) -> state_file.SavedState:
    return state_file.SavedState(**{"topology": "", "epoch": 7, "hosts": HOSTS, "links": LINKS,
                                    "labels": LABELS, "splits": SPLITS, **changes})


def test_a_written_file_loads_back_the_same_state(tmp_path):
    path = tmp_path / "state.json"
    state_file.write(str(path), saved())
    loaded, problem = state_file.load(str(path))
    assert problem == "" and loaded == saved()
    assert loaded.switches() == {1, 2, 3}
    assert loaded.path_links() == {(1, 2), (2, 3), (3, 2), (2, 1)}
    # the file is plain JSON an operator can read
    data = json.loads(path.read_text())
    assert data["format"] == "qroute-state" and data["epoch"] == 7
    assert {"mac": "00:00:00:00:00:01", "dpid": 1, "port": 1, "ip": "10.0.0.1"} in data["hosts"]
    assert {"path": [1, 2, 3], "label": 1} in data["labels"]


def test_no_file_is_no_problem(tmp_path):
    assert state_file.load(str(tmp_path / "absent.json")) == (None, "")


@pytest.mark.parametrize("text, says", [
    ("{not json", "is not JSON"),
    (b"\xff\xfe".decode("latin-1"), "is not JSON"),
    (json.dumps({"hosts": []}), "not a qroute state file"),
    (json.dumps({"format": "qroute-state", "version": 99}), "version 99"),
    (json.dumps({"format": "qroute-state", "version": 1, "topology": "geant"}),
     "written for topology 'geant'"),
    (json.dumps({"format": "qroute-state", "version": 1, "labels": [{"path": [1, 2], "label": 5000}]}),
     "not an integer in 1..4094"),
    (json.dumps({"format": "qroute-state", "version": 1, "labels": [{"path": [1, 2, 1], "label": 3}]}),
     "visits a switch twice"),
    (json.dumps({"format": "qroute-state", "version": 1,
                 "labels": [{"path": [1, 2], "label": 3}, {"path": [1, 3, 2], "label": 3}]}), "given twice"),
    (json.dumps({"format": "qroute-state", "version": 1, "labels": [{"path": [1, 2], "label": 3}],
                 "splits": [{"src": 1, "dst": 2, "paths": [{"path": [1, 2], "share": 0.5}]}]}),
     "do not sum to 1"),
    (json.dumps({"format": "qroute-state", "version": 1,
                 "splits": [{"src": 1, "dst": 2, "paths": [{"path": [1, 2], "share": 1}]}]}), "has no label"),
    (json.dumps({"format": "qroute-state", "version": 1, "hosts": [{"mac": "x", "dpid": 1, "port": 1}]}),
     "not a MAC address"),
    (json.dumps({"format": "qroute-state", "version": 1, "hosts": "all"}), "'hosts' is not a list"),
    (json.dumps({"format": "qroute-state", "version": 1,
                 "links": [{"src": 1, "dst": "2", "src_port": 1, "dst_port": 1}]}), "link dst is '2'"),
])
def test_a_bad_file_is_refused_naming_the_file_and_the_problem(tmp_path, text, says):
    path = tmp_path / "state.json"
    path.write_text(text, encoding="utf-8")
    loaded, problem = state_file.load(str(path))
    assert loaded is None
    assert says in problem and str(path) in problem and "starting without it" in problem


def test_a_file_of_another_topology_is_refused_by_its_links(tmp_path):
    path = tmp_path / "state.json"
    state_file.write(str(path), saved(topology="abilene"))
    loaded, problem = state_file.load(str(path), "abilene", topology_links={(1, 2), (2, 1)})
    assert loaded is None and "link 2-3 is not in topology 'abilene'" in problem
    assert state_file.load(str(path), "abilene", topology_links=set(LINKS))[0] == saved(topology="abilene")


def test_a_write_failing_before_the_rename_leaves_the_old_file_whole_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    state_file.write(str(path), saved())
    old = path.read_bytes()

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        state_file.write(str(path), saved(epoch=8))
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["state.json"]


def test_the_write_is_synced_before_it_replaces_the_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b)))
    state_file.write(str(path), saved())
    assert calls == ["fsync", "replace", "fsync"]   # the data, the rename, the folder


def test_drained_links_are_saved_as_cables_and_read_back():
    from controller.state_file import SavedState, from_json, to_json

    saved = from_json(to_json(SavedState(drained={(2, 3), (1, 5)})))
    assert saved.drained == {(1, 5), (2, 3)}
    assert from_json({**to_json(SavedState()), "drained": [{"src": 7, "dst": 4}]}).drained == {(4, 7)}
    assert from_json({k: v for k, v in to_json(SavedState()).items() if k != "drained"}).drained == set()
