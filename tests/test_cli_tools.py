"""One way in: every tool is a ``qroute`` subcommand with ``--help``, one-line errors and the
same argument types; the lab tools refuse without root before Mininet is imported."""
from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys

import pytest

from qnn import argtypes
from qnn.cli import main

REPO = pathlib.Path(__file__).resolve().parents[1]
TOOLS = ["bench", "train", "export-qasm", "speed", "realism", "scale", "rules", "lab"]
LAB_TOOLS = ["demo", "demo-live", "failover", "replay", "reliability", "ha"]
EVERY_TOOL = [*TOOLS[:-1], *(f"lab {name}" for name in LAB_TOOLS)]
REQUIRED = {"bench": ["--topology", "polska"], "train": ["--topology", "geant", "--out", "x.pt"],
            "export-qasm": ["--checkpoint", "qnn-geant"], "scale": ["--out", "x"]}


def python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with this worktree first on the path."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)


def qroute(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qnn.cli", *argv], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)


def listed_tools(help_text: str) -> list[str]:
    """The tool names in a ``--help`` text: the first word of each line indented by four."""
    return [line.split()[0] for line in help_text.splitlines()
            if line.startswith("    ") and not line.startswith("     ")]


def test_qroute_help_lists_every_tool_with_its_help():
    done = qroute("--help")
    assert done.returncode == 0 and done.stderr == ""
    assert listed_tools(done.stdout) == TOOLS
    assert "train the QNN / MLP path selector" in done.stdout
    assert "live tools in Mininet (root)" in done.stdout


def test_qroute_lab_help_lists_the_mininet_tools():
    done = qroute("lab", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: qroute lab ")
    assert listed_tools(done.stdout) == LAB_TOOLS


def test_help_imports_neither_torch_nor_mininet():
    done = python(
        "import sys\n"
        "from qnn.cli import main\n"
        "for argv in (['--help'], ['lab', '--help'], ['lab', 'demo', '--help'],\n"
        "             ['lab', 'demo-live', '--help'], ['lab', 'failover', '--help'],\n"
        "             ['lab', 'replay', '--help'],\n"
        "             ['lab', 'reliability', '--help'], ['lab', 'ha', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, argv\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchquantum', 'mininet'}))\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("tool", EVERY_TOOL)
def test_every_tool_has_help(tool, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*tool.split(), "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: qroute {tool} [-h]")


@pytest.mark.parametrize("tool", EVERY_TOOL)
def test_an_unknown_option_is_one_line_and_exit_2(tool, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*tool.split(), *REQUIRED.get(tool, []), "--no-such-option"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.splitlines() == [f"qroute {tool}: error: unrecognized arguments: --no-such-option"]


@pytest.mark.parametrize("tool, argv, message", [
    ("bench", ["--topology", "polska", "--k", "0"], "argument --k: must be at least 1, not 0"),
    ("train", [*REQUIRED["train"], "--rounds", "0"], "argument --rounds: must be at least 1"),
    ("export-qasm", [*REQUIRED["export-qasm"], "--matrix", "-1"], "argument --matrix: must not be negative"),
    ("speed", ["--flows", "100,x"], "argument --flows: 'x' is not a whole number"),
    ("speed", ["--repeat", "0"], "argument --repeat: must be at least 1, not 0"),
    ("realism", ["--noise", "0.01,2"], "argument --noise: must lie between 0 and 1, not 2"),
    ("realism", ["--shots", "0"], "argument --shots: must be at least 1, not 0"),
    ("scale", ["--out", "x", "--sizes", ","], "argument --sizes: ',' names no value"),
    ("scale", ["--out", "x", "--milp-time-limit", "nan"],
     "argument --milp-time-limit: 'nan' is not a finite number"),
    ("lab demo", ["--seed", "-1"], "argument --seed: must not be negative, not -1"),
    ("lab replay", ["--matrices", "3"], "argument --matrices: '3': expected START:COUNT"),
    ("lab replay", ["--matrices", "3:0"], "argument --matrices: '3:0': expected START:COUNT"),
    ("lab replay", ["--policies", "spf,ospf"], "argument --policies: unknown 'ospf' (choose from spf, qnn,"),
    ("lab replay", ["--topology", "ring"], "argument --topology: invalid choice: 'ring'"),
    ("lab replay", ["--seconds-per-matrix", "1"], "argument --seconds-per-matrix: must be at least 4"),
    ("lab failover", ["--topology", "nope"],
     "argument --topology: wants one of abilene, diamond, geant, ring, ring-ovs-dpids or a topology "
     "file, not 'nope'"),
    ("lab failover", ["--topology", "graph"], "argument --topology: wants one of"),
    ("lab failover", ["--rate-pps", "0"], "argument --rate-pps: must be at least 1, not 0"),
])
def test_a_bad_value_is_one_line_naming_the_option(tool, argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*tool.split(), *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert len(err.splitlines()) == 1 and err.startswith(f"qroute {tool}: error: {message}")


@pytest.mark.parametrize("tool", sorted(REQUIRED))
def test_a_missing_option_is_one_line_and_exit_2(tool, capsys):
    with pytest.raises(SystemExit) as exited:
        main([tool])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"qroute {tool}: error: the following arguments are required: {REQUIRED[tool][0]}")


def test_no_tool_or_an_unknown_tool_is_one_line(capsys):
    for argv, prefix in ((["nope"], "qroute: error: argument TOOL: invalid choice: 'nope'"),
                         ([], "qroute: error: the following arguments are required: TOOL"),
                         (["lab", "nope"], "qroute lab: error: argument TOOL: invalid choice: 'nope'")):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        err = capsys.readouterr().err
        assert exited.value.code == 2 and len(err.splitlines()) == 1 and err.startswith(prefix)


@pytest.mark.parametrize("tool", LAB_TOOLS)
def test_the_lab_refuses_without_root_in_one_line(tool, monkeypatch, capsys):
    import controller.lab.demo
    import controller.lab.failover_bench
    import controller.lab.ha_failover
    import controller.lab.replay

    def must_not_run(*args, **kwargs):
        raise AssertionError("a lab tool ran without root")

    for module in (controller.lab.demo, controller.lab.failover_bench, controller.lab.replay,
                   controller.lab.ha_failover):
        monkeypatch.setattr(module, "run", must_not_run)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["lab", tool]) == 2
    assert capsys.readouterr().err.splitlines() == [f"qroute lab {tool}: error: needs root (Mininet and "
                                                    f"Open vSwitch build the network); run it with sudo"]


def test_the_lab_refuses_without_root_before_importing_mininet():
    done = python(
        "import os, sys\n"
        "os.geteuid = lambda: 1000\n"
        "from qnn.cli import main\n"
        "codes = [main(['lab', tool]) for tool in ('demo', 'failover', 'replay', 'ha')]\n"
        "print(codes, [m for m in sys.modules if m.split('.')[0] == 'mininet'])\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[2, 2, 2, 2] []"
    assert len(done.stderr.splitlines()) == 4 and "needs root" in done.stderr


@pytest.mark.parametrize("tool, argv, work", [
    ("lab failover", ["--json", "FILE/x.json"], ("controller.lab.failover_bench", "run_trials")),
    ("lab failover", ["--json", "out.txt"], ("controller.lab.failover_bench", "run_trials")),
    ("lab replay", ["--json", "FILE/x.json"], ("controller.lab.replay", "build_plan")),
    ("lab replay", ["--plot", "FILE/x.png"], ("controller.lab.replay", "build_plan")),
    ("lab replay", ["--json", "out.txt"], ("controller.lab.replay", "build_plan")),
    ("scale", ["--out", "FILE/out"], ("qnn.bench.scale", "run_scale_bench")),
])
def test_output_paths_are_refused_before_any_work(tool, argv, work, tmp_path, monkeypatch, capsys):
    import importlib

    a_file = tmp_path / "a-file"
    a_file.write_text("")

    def must_not_run(*args, **kwargs):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(importlib.import_module(work[0]), work[1], must_not_run)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert main([*tool.split(), *(a.replace("FILE", str(a_file)) for a in argv)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(f"qroute {tool}: error: --")
    assert ("is not a folder" in err) if "FILE" in argv[1] else ("must end in .json" in err)


def test_the_mininet_topology_names_are_those_mininet_builds():
    from topologies.catalog import MININET_TOPOLOGIES
    from topologies.mininet_topos import topos  # Mininet is installed by make, never optional

    assert sorted(MININET_TOPOLOGIES) == sorted(topos)


def test_comma_list_reads_each_item_with_its_type():
    flows = argtypes.comma_list(argtypes.positive_int)
    assert flows("100, 462,,1000") == [100, 462, 1000]
    for text, message in (("", "'' names no value"), ("1,0", "must be at least 1, not 0"),
                          ("1,2.5", "'2.5' is not a whole number")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            flows(text)
    assert argtypes.comma_list(argtypes.probability, allow_empty=True)("") == []


def test_names_from_at_least_and_probability():
    policies = argtypes.names_from(("shortest-path", "qnn"))
    assert policies("qnn, shortest-path") == ["qnn", "shortest-path"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown 'mlp'"):
        policies("qnn,mlp")
    with pytest.raises(argparse.ArgumentTypeError, match="names none of"):
        policies(" , ")
    assert argtypes.at_least(5, float)("5") == 5.0
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 2, not 1"):
        argtypes.at_least(2)("1")
    assert argtypes.probability("0") == 0.0 and argtypes.probability("1") == 1.0
    with pytest.raises(argparse.ArgumentTypeError, match="must lie between 0 and 1, not -0.1"):
        argtypes.probability("-0.1")


def test_writable_folder(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    new = str(tmp_path / "new" / "deeper")
    assert argtypes.writable_folder(new, "out") == new
    with pytest.raises(ValueError, match=f"--out {a_file}/x: {a_file} is not a folder"):
        argtypes.writable_folder(str(a_file / "x"), "out")
    with pytest.raises(ValueError, match="is not a folder"):
        argtypes.writable_folder(str(a_file), "out")
