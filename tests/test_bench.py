"""qroute bench: settings, scoring, the method registry and the command line."""
import json

import numpy as np
import pytest

from qnn.bench import methods as registry
from qnn.bench.harness import format_table, run_bench
from qnn.cli import main
from qnn.loads import link_loads
from qnn.paths import k_shortest_paths
from topologies.traffic import gravity_traffic
from topologies.zoo import load_topohub


@pytest.fixture(scope="module")
def small():
    net = load_topohub("polska")
    ps = k_shortest_paths(net, 3)
    return net, ps, gravity_traffic(net, 9, seed=0)


def test_all_baselines_in_both_settings(small):
    net, ps, tms = small
    names = list(registry.DEFAULT_METHODS)
    milp = {"milp_every": 2, "milp_time_limit": 0.3}
    oracle = run_bench(net, ps, tms, names, "oracle", milp, progress=False)
    predictive = run_bench(net, ps, tms, names, "predictive", milp, progress=False)
    for result in (oracle, predictive):
        s = result.summary()
        assert s["n_matrices"] == 8 and set(s["methods"]) == set(names)
        for name, m in s["methods"].items():
            assert set(m["mlu_ratio"]) == {"mean", "p50", "p90", "p99", "max"}
            assert set(m["decision_ms"]) == {"mean", "p90"}
            if name != "mcf":  # path-form and fixed routings cannot beat the path LP optimum
                assert m["mlu_ratio"]["p50"] >= 1 - 1e-6
        assert s["methods"]["mcf"]["mlu_ratio"]["max"] <= 1 + 1e-6
        assert s["methods"]["milp"]["n_scored"] == 4  # t = 2, 4, 6, 8
        assert sum(s["methods"]["milp"]["solver_status"].values()) == 4  # every solve says how it ended
        assert "| stale-lp |" in format_table(s)
    # oracle LP is the reference itself; predictive LP decides on t-1, exactly like stale LP
    np.testing.assert_allclose(oracle.traces["lp"].ratio, 1.0, rtol=1e-6)
    np.testing.assert_allclose(predictive.traces["lp"].ratio, oracle.traces["stale-lp"].ratio, rtol=1e-6)
    np.testing.assert_allclose(predictive.traces["spf"].mlu, oracle.traces["spf"].mlu)  # static routing


class Spy:
    """Records what each decision could see; routes everything on path 0."""

    def __init__(self, pathset):
        self.pathset, self.seen = pathset, []

    def decide(self, ctx):
        self.seen.append(ctx)
        split = np.zeros(self.pathset.mask.shape)
        split[:, ctx.t % 2] = 1.0  # alternate so churn is visible
        return split


@pytest.mark.parametrize("setting, lag", [("oracle", 0), ("predictive", 1)])
def test_context_shows_only_what_the_setting_allows(small, setting, lag):
    net, ps, tms = small
    spies = []
    registry.register_method("spy", lambda p, n, o: spies.append(Spy(p)) or spies[-1])
    try:
        result = run_bench(net, ps, tms, ["spy"], setting, progress=False)
    finally:
        registry._REGISTRY.pop("spy")
    demand = ps.demand_vector(tms)
    for ctx in spies[0].seen:
        assert ctx.visible_index == ctx.t - lag and len(ctx.history_tms) == ctx.visible_index + 1
        np.testing.assert_array_equal(ctx.visible_tm, tms[ctx.t - lag])
        np.testing.assert_array_equal(ctx.visible_demand, demand[ctx.t - lag])
        if ctx.t == 1:
            assert ctx.prev_split is None and ctx.observed_loads is None
        else:
            assert ctx.prev_split[0, (ctx.t - 1) % 2] == 1
            np.testing.assert_allclose(ctx.observed_loads,
                                       link_loads(ps, demand[ctx.t - 1], ctx.prev_split)[0])
    churn = np.array(result.traces["spy"].churn)
    # the first decision has nothing to move from and is left out; then every flow alternates paths
    assert np.isnan(churn[0]) and np.all(churn[1:] == 1)
    assert result.summary()["methods"]["spy"]["churn_mean"] == 1.0


def test_cli_bench_writes_json_and_plot(tmp_path, capsys):
    tms_file = tmp_path / "tms.txt"
    net = load_topohub("polska")
    np.savetxt(tms_file, gravity_traffic(net, 4, seed=3).reshape(4, -1))
    out, png = tmp_path / "out.json", tmp_path / "mlu.png"
    code = main(["bench", "--topology", "polska", "--tms", str(tms_file), "--setting", "predictive",
                 "--methods", "spf,ecmp,lp,stale-lp", "--json", str(out), "--plot", str(png),
                 "--no-progress"])
    assert code == 0
    doc = json.loads(out.read_text())
    assert {"topology", "setting", "n_matrices", "methods"} <= set(doc)
    assert doc["setting"] == "predictive" and doc["n_matrices"] == 3
    assert list(doc["methods"]) == ["spf", "ecmp", "lp", "stale-lp"]
    assert png.stat().st_size > 1000
    assert "stale-lp" in capsys.readouterr().out


def test_cli_unknown_method_and_missing_plugin(capsys, monkeypatch):
    assert main(["bench", "--topology", "polska", "--n-synthetic", "3", "--methods", "nope",
                 "--no-progress"]) == 2
    assert "qroute bench: error: unknown method(s) nope; available: " in capsys.readouterr().err
    monkeypatch.setitem(__import__("qnn.cli").cli.SUBCOMMANDS, "train", ("qnn.does_not_exist", "x"))
    assert main(["train"]) == 2
    assert "not available" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--start", "-5"], "argument --start: must not be negative, not -5"),
    (["--limit", "-3"], "argument --limit: must be at least 2, not -3"),
    (["--milp-every", "0"], "argument --milp-every: must be at least 1, not 0"),
    (["--k", "0"], "argument --k: must be at least 1, not 0"),
    (["--scale", "-1"], "argument --scale: must be greater than 0, not -1"),
    (["--scale", "nan"], "argument --scale: 'nan' is not a finite number"),
    (["--milp-time-limit", "-1"], "argument --milp-time-limit: must be greater than 0, not -1"),
    (["--milp-time-limit", "nan"], "argument --milp-time-limit: 'nan' is not a finite number"),
    (["--n-synthetic", "1"], "argument --n-synthetic: must be at least 2, not 1"),
    (["--methods", ","], "--methods names no method"),
    (["--methods", "spf,nope"], "unknown method(s) nope; available: "),
    (["--json", "FILE/x.json"], "--json FILE/x.json: FILE is not a folder"),
    (["--plot", "mlu.txt"], "--plot mlu.txt: must end in .eps or"),
])
def test_cli_bench_refuses_bad_options_before_any_work(capsys, argv, words, tmp_path, monkeypatch):
    import qnn.bench.scenario

    def must_not_run(*args, **kwargs):
        raise AssertionError("the scenario was loaded before the options were checked")

    monkeypatch.setattr(qnn.bench.scenario, "load_scenario", must_not_run)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    argv = [arg.replace("FILE", str(a_file)) for arg in argv]
    try:
        code = main(["bench", "--topology", "polska", "--n-synthetic", "3", "--methods", "spf",
                     "--no-progress", *argv])
    except SystemExit as exited:  # refused by the parser
        code = exited.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("qroute bench: error: " + words.replace("FILE", str(a_file)))


def test_cli_bench_names_bad_input_in_one_line_without_a_traceback(tmp_path, capsys):
    nan_file = tmp_path / "nan.txt"
    nan_file.write_text(" ".join(["1"] * 144) + "\n" + " ".join(["nan"] + ["1"] * 143) + "\n")
    zero_file = tmp_path / "zero.txt"
    zero_file.write_text((" ".join(["0"] * 144) + "\n") * 3)
    binary_file = tmp_path / "binary.txt"
    binary_file.write_bytes((" ".join(["1"] * 144) + "\n").encode() + b"\xff\xfe\n")
    cases = [
        (["--topology", "abilene", "--tms", str(nan_file)], f"{nan_file}:2: NaN or infinite demand"),
        (["--topology", "abilene", "--tms", str(zero_file)], "carries traffic"),
        (["--topology", "abilene", "--tms", str(binary_file)], f"{binary_file}:2: not UTF-8 text"),
        (["--topology", "abilene", "--tms", str(tmp_path / "missing.txt")], "No such file"),
        (["--topology", "sndlib/nope"], "topohub has no topology named 'sndlib/nope'"),
    ]
    for argv, words in cases:
        assert main(["bench", *argv, "--methods", "spf", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("qroute bench: error: ") and words in err and "Traceback" not in err


def test_scenario_refuses_k_or_tunnels_it_would_ignore():
    from qnn.bench.scenario import load_scenario

    with pytest.raises(ValueError, match="only geant has given tunnels"):
        load_scenario("polska", paths="tunnels", n_synthetic=2)


@pytest.mark.data
def test_geant_tunnels_refuse_another_k():
    from qnn.bench.scenario import load_scenario
    from tests.conftest import require_data_or_skip

    require_data_or_skip("geant", "tunnels.txt")
    with pytest.raises(ValueError, match="3 paths per pair, not k=2"):
        load_scenario("geant", k=2)


def test_scale_bench_times_each_registered_method_and_skips_above_its_limit():
    from qnn.bench.scale import format_scale_table, run_scale_bench

    doc = run_scale_bench("germany50", [10, 30], k=2, seed=0, repeats=2, milp_max_flows=10,
                          milp_time_limit=5.0, mcf_max_flows=0, processes=1, log=lambda *_: None)
    methods = doc["methods"]
    assert methods["milp"]["flows"] == [10]
    assert methods["milp"]["skipped"] == {"30": "above --milp-max-flows 10"}
    assert methods["milp"]["status"] == {"10": ["optimal", "optimal"]}  # one status per timed solve
    assert methods["mcf"]["flows"] == [] and set(methods["mcf"]["skipped"]) == {"10", "30"}
    for name in ("spf", "spf-hops", "ecmp", "lp", "stale-lp", "link-loads-eval"):
        assert methods[name]["flows"] == [10, 30] and all(ms > 0 for ms in methods[name]["decision_ms_mean"])
    assert "| mcf | skipped | skipped |" in format_scale_table(doc)


class StoppedSolver(Spy):
    """A solver whose every solve ended without an integer solution in its time limit."""

    time_limit = 0.5

    def __init__(self, pathset):
        super().__init__(pathset)
        self.statuses = {}

    def decide(self, ctx):
        self.statuses["lp-rounded"] = self.statuses.get("lp-rounded", 0) + 1
        return super().decide(ctx)


def test_solves_stopped_at_the_time_limit_are_named_with_the_limit(small):
    net, ps, tms = small
    registry.register_method("stopped", lambda p, n, o: StoppedSolver(p))
    try:
        summary = run_bench(net, ps, tms[:4], ["stopped"], "oracle", progress=False).summary()
    finally:
        registry._REGISTRY.pop("stopped")
    assert summary["methods"]["stopped"]["solver_status"] == {"lp-rounded": 3}
    assert summary["methods"]["stopped"]["time_limit_s"] == 0.5
    assert ("| stopped (3 of 3 solves not proven optimal, 3 LP-rounded: no integer solution within "
            "the 0.5 s limit) |") in format_table(summary)


def test_a_multicommodity_flow_stopped_at_its_time_limit_is_not_scored_and_says_so(small):
    net, ps, tms = small
    summary = run_bench(net, ps, tms[:4], ["mcf"], "oracle", {"mcf_time_limit": 1e-9},
                        progress=False).summary()
    mcf = summary["methods"]["mcf"]
    assert mcf["solver_status"] == {"time-limit": 3} and mcf["n_scored"] == 0
    assert mcf["mlu_ratio"]["mean"] is None and mcf["time_limit_s"] == 1e-9
    assert "| mcf (bound, oracle) (3 of 3 solves not proven optimal) | – |" in format_table(summary)
