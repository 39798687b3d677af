"""[qroute] topology and tunnels: a named network or an existing, well-formed topology file; a
missing or malformed one stops the controller at start-up (exit 2), naming the file."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from controller.settings import Settings, SettingsError, default_checkpoint, parse_settings
from tests.conftest import require_data_or_skip

RING = {"nodes": [{"id": n} for n in range(4)],
        "links": [{"source": a, "target": (a + 1) % 4, "capacity": 10e9} for a in range(4)]}


@pytest.fixture
def files(tmp_path):
    """name -> path of the files the table below names."""
    paths = {"ring": tmp_path / "ring.json", "broken": tmp_path / "broken.json",
             "ring tunnels": tmp_path / "ring-tunnels.txt", "bad tunnels": tmp_path / "bad-tunnels.txt",
             "missing": tmp_path / "missing.json"}
    paths["ring"].write_text(json.dumps(RING))
    paths["broken"].write_text('{"nodes": [{"id": 0}],\n "links": [{"source": 0, "target": 7}]}\n')
    paths["ring tunnels"].write_text("0 2:0-1-2,0-3-2\n")
    paths["bad tunnels"].write_text("0 2:0-2\n")  # 0-2 is not a link of the ring
    return {name: str(path) for name, path in paths.items()}


def settings_of(files, **options):
    """parse_settings of options whose values may name a file of `files` by its key."""
    return parse_settings({key: files.get(value, value) for key, value in options.items()},
                          source="q.conf")


@pytest.mark.parametrize("options", [
    {"topology": "abilene"},
    {"topology": "ring"},
    {"topology": "ring", "routing_weight": "ospf"},
    {"topology": "ring", "tunnels": "ring tunnels", "policy": "milp"},
    {"topology": "ring", "tunnels": "ring tunnels", "policy": "qnn"},
    {"topology": "ring", "tunnels": "ring tunnels", "policy": "lp"},
], ids=lambda options: ", ".join(f"{k}={v}" for k, v in options.items()))
def test_accepted(files, options):
    got = settings_of(files, **options)
    assert got.topology == files.get(options["topology"], options["topology"])
    assert got.tunnels == files.get(options.get("tunnels", ""), "")


# (options, words the one-line message must hold, the option whose value it must name)
REFUSED = [
    ({"topology": "missing"}, "no file there", "topology"),
    ({"topology": "nsfnet"}, "must be one of abilene, geant, or an existing topology file", "topology"),
    ({"topology": "broken"}, "names node 7, which is not a node of the file", "topology"),
    ({"topology": "ring", "tunnels": "missing", "policy": "milp"}, "no such file", "tunnels"),
    ({"topology": "ring", "tunnels": "bad tunnels", "policy": "mlp"},
     "bad-tunnels.txt:1: tunnel 0-2 uses missing link 0->2", "tunnels"),
    ({"tunnels": "ring tunnels", "policy": "milp"}, "[qroute] tunnels needs topology", None),
    ({"topology": "ring", "tunnels": "ring tunnels"},
     "[qroute] tunnels are only used by policy = qnn, mlp, milp, lp", None),
]


@pytest.mark.parametrize("options, words, named", REFUSED, ids=[words for _, words, _ in REFUSED])
def test_refused(files, options, words, named):
    with pytest.raises(SettingsError) as error:
        settings_of(files, **options)
    message = str(error.value)
    assert words in message and "q.conf" in message and len(message.splitlines()) == 1
    if named:
        assert f"[qroute] {named} = '{files.get(options[named], options[named])}'" in message


@pytest.mark.data
def test_geant_and_its_tunnels_are_accepted():
    tunnels = require_data_or_skip("geant", "tunnels.txt")
    got = parse_settings({"topology": "geant", "tunnels": str(tunnels), "policy": "qnn"})
    assert (got.topology, got.tunnels) == ("geant", str(tunnels))
    assert default_checkpoint(got) == "qnn-geant"
    assert default_checkpoint(parse_settings({"topology": "geant", "policy": "qnn", "split": "false"})) == \
        "qnn-geant-single"


def test_a_file_topologys_default_checkpoint_is_abilenes(files):
    assert default_checkpoint(Settings(policy="mlp", topology=files["ring"])) == "mlp-abilene"
    single = Settings(policy="mlp", topology=files["ring"], split="false")
    assert default_checkpoint(single) == "mlp-abilene-single"


def test_a_malformed_topology_file_exits_2_at_start_up(files, tmp_path, monkeypatch, capsys):
    pytest.importorskip("ryu")
    import controller.app  # noqa: F401  (registers ryu's options, as ryu-manager does)
    from controller import ryu_options

    conf = tmp_path / "q.conf"
    conf.write_text(f"[qroute]\ntopology = {files['broken']}\n")
    monkeypatch.setattr(ryu_options, "CONF", SimpleNamespace(config_file=[str(conf)]))
    with pytest.raises(SystemExit) as exited:
        ryu_options.load_settings()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert str(conf) in err and f"{files['broken']}: link 0 (0->7) names node 7" in err


def test_the_real_controller_exits_2_before_any_switch_on_a_malformed_topology_file(files, tmp_path):
    from tests.test_launcher import _launch_with_config

    conf = tmp_path / "q.conf"
    conf.write_text(f"[DEFAULT]\nwsapi_port = 0\n[qroute]\ntopology = {files['broken']}\n")
    result = _launch_with_config(conf)
    assert result.returncode == 2
    assert f"{files['broken']}: link 0 (0->7) names node 7" in result.stderr


def test_a_missing_file_is_reported_beside_the_other_problems(files):
    with pytest.raises(SettingsError) as error:
        settings_of(files, topology="missing", stats_interval="0")
    lines = str(error.value).splitlines()
    assert len(lines) == 2 and "stats_interval" in lines[0] and "no file there" in lines[1]
