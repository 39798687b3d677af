"""The [qroute] section of ryu-manager's --config-file: defaults, overrides, and one clear
message per bad value or unknown key, naming the key and the file."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from controller.settings import SHORTEST_PERIOD_S, Settings, SettingsError, parse_settings, read_settings


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_no_files_gives_the_defaults():
    assert read_settings([]) == Settings()


def test_file_without_a_qroute_section_gives_the_defaults(tmp_path):
    path = write(tmp_path, "ryu.conf", "[DEFAULT]\nwsapi_port = 8081\n")
    assert read_settings([path]) == Settings()


def test_values_are_read_and_converted(tmp_path):
    path = write(tmp_path, "q.conf", "[qroute]\nstats_interval = 0.25\nrest_api = no\n"
                                     "metrics_port = 9100\nrouting-weight = utilisation\n")
    got = read_settings([path])
    assert got.stats_interval == 0.25 and got.rest_api is False
    assert got.metrics_port == 9100 and got.routing_weight == "utilisation"
    assert got.reoptimize_interval == Settings().reoptimize_interval


def test_later_file_overrides_earlier(tmp_path):
    first = write(tmp_path, "a.conf", "[qroute]\nstats_interval = 3\nmetrics_port = 1\n")
    second = write(tmp_path, "b.conf", "[qroute]\nstats_interval = 4\n")
    got = read_settings([first, second])
    assert got.stats_interval == 4.0 and got.metrics_port == 1


def test_a_later_files_default_section_does_not_erase_qroute_values(tmp_path):
    first = write(tmp_path, "a.conf", "[qroute]\nstats_interval = 3\n")
    second = write(tmp_path, "b.conf", "[DEFAULT]\nstats_interval = 7\nwsapi_port = 8081\n")
    assert read_settings([first, second]).stats_interval == 3.0


def test_default_section_keys_are_not_qroute_options(tmp_path):
    path = write(tmp_path, "q.conf", "[DEFAULT]\nwsapi_port = 8081\nstats_interval = 9\n"
                                     "[qroute]\nreoptimize_interval = 6\n")
    got = read_settings([path])  # wsapi_port is not reported as unknown
    assert got.reoptimize_interval == 6.0 and got.stats_interval == Settings().stats_interval


@pytest.mark.parametrize("key, value", [
    ("stats_interval", "fast"),
    ("stats_interval", "0"),
    ("reoptimize_interval", "-5"),
    ("link_capacity_mbps", "nan"),
    ("arp_flood_window", "inf"),
    ("routing_weight", "fastest"),
    ("rest_api", "maybe"),
    ("metrics_port", "70000"),
    ("metrics_port", "-1"),
    ("metrics_port", "91.5"),
    ("policy", "quantum"),
    ("keep_margin", "1.5"),
    ("keep_margin", "-0.1"),
    ("split", "yes"),
    ("split", "ecmp"),
    ("decision_log_size", "0"),
    ("decision_log_size", "10001"),
    ("decision_log_size", "many"),
])
def test_each_bad_value_is_reported_with_key_and_file(tmp_path, key, value):
    path = write(tmp_path, "bad.conf", f"[qroute]\n{key} = {value}\n")
    with pytest.raises(SettingsError) as error:
        read_settings([path])
    message = str(error.value)
    assert key in message and path in message and value in message


def test_unknown_key_is_reported_with_the_known_ones(tmp_path):
    path = write(tmp_path, "typo.conf", "[qroute]\nstats_intreval = 2\n")
    with pytest.raises(SettingsError) as error:
        read_settings([path])
    message = str(error.value)
    assert "stats_intreval" in message and path in message and "stats_interval" in message


def test_every_problem_is_reported_at_once_naming_its_own_file(tmp_path):
    good = write(tmp_path, "good.conf", "[qroute]\nstats_interval = 3\nbogus = 1\n")
    bad = write(tmp_path, "bad.conf", "[qroute]\nrouting_weight = fastest\n")
    with pytest.raises(SettingsError) as error:
        read_settings([good, bad])
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert any(line.startswith(good) and "bogus" in line for line in lines)
    assert any(line.startswith(bad) and "routing_weight" in line for line in lines)


def test_unreadable_or_malformed_file_is_reported(tmp_path):
    missing = str(tmp_path / "missing.conf")
    with pytest.raises(SettingsError, match="missing.conf"):
        read_settings([missing])
    broken = write(tmp_path, "broken.conf", "stats_interval = 2\n")  # no section header
    with pytest.raises(SettingsError, match="broken.conf"):
        read_settings([broken])


def test_a_section_name_that_only_looks_like_qroute_is_refused(tmp_path):
    for header in ("[QRoute]", "[qroute ]"):
        conf = write(tmp_path, "near.conf", f"{header}\nstats_interval = abc\n")
        with pytest.raises(SettingsError, match=r"near.conf: section .* is not \[qroute\]"):
            read_settings([conf])


def test_an_option_given_twice_in_one_file_is_refused(tmp_path):
    twice = write(tmp_path, "twice.conf", "[qroute]\nstats_interval = 1\nstats_interval = 3\n")
    with pytest.raises(SettingsError, match="twice.conf:3: .*sets stats_interval again .first on line 2"):
        read_settings([twice])
    spellings = write(tmp_path, "spellings.conf", "[qroute]\nstats-interval = 1\n# note\nStats_Interval: 3\n")
    with pytest.raises(SettingsError, match="spellings.conf:4: .*sets stats_interval again"):
        read_settings([spellings])
    sections = write(tmp_path, "sections.conf", "[qroute]\nstats_interval = 1\n[DEFAULT]\n"
                                                "verbose = true\n[qroute]\nstats_interval = 3\n")
    with pytest.raises(SettingsError, match="sections.conf:6: "):
        read_settings([sections])
    # ryu's own sections keep oslo.config's tolerance of repeats, before [qroute] or after it
    ryu_twice = write(tmp_path, "ryu.conf", "[DEFAULT]\nverbose = true\nverbose = false\n"
                                            "[qroute]\nstats_interval = 3\n\n[DEFAULT]\nverbose = true\n")
    assert read_settings([ryu_twice]).stats_interval == 3
    repeat_after_ryu = write(tmp_path, "late.conf", "[DEFAULT]\nverbose = true\nverbose = false\n"
                                                    "[qroute]\nstats_interval = 1\nstats_interval = 3\n")
    with pytest.raises(SettingsError, match="late.conf:6: "):
        read_settings([repeat_after_ryu])


def test_a_later_file_overrides_an_option_however_the_earlier_one_spelled_it(tmp_path):
    first = write(tmp_path, "a.conf", "[qroute]\nstats-interval = 1\n")
    second = write(tmp_path, "b.conf", "[qroute]\nstats_interval = 3\n")
    assert read_settings([first, second]).stats_interval == 3


def test_a_config_file_that_is_not_utf8_is_reported(tmp_path):
    binary = tmp_path / "binary.conf"
    binary.write_bytes(b"[qroute]\ncheckpoint = \xff\xfe\n")
    with pytest.raises(SettingsError, match="binary.conf: cannot read"):
        read_settings([str(binary)])


finite_positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False,
                            allow_infinity=False)


@hsettings(max_examples=60, deadline=None)
@given(value=finite_positive, key=st.sampled_from(
    ["stats_interval", "reoptimize_interval", "link_capacity_mbps", "arp_flood_window"]))
def test_any_positive_finite_number_round_trips(value, key):
    if key in SHORTEST_PERIOD_S and value < SHORTEST_PERIOD_S[key]:
        with pytest.raises(SettingsError, match=f"{key} .*must be at least"):
            parse_settings({key: repr(value)}, source="x.conf")
        return
    got = parse_settings({key: repr(value)}, source="x.conf")
    assert getattr(got, key) == value


@hsettings(max_examples=60, deadline=None)
@given(value=st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf),
                       st.just(-math.inf)))
def test_any_non_positive_or_non_finite_interval_is_refused(value):
    with pytest.raises(SettingsError, match="stats_interval"):
        parse_settings({"stats_interval": repr(value)}, source="x.conf")


@hsettings(max_examples=60, deadline=None)
@given(port=st.integers(min_value=-10**6, max_value=10**6))
def test_metrics_port_accepted_exactly_in_range(port):
    if 0 <= port <= 65535:
        assert parse_settings({"metrics_port": str(port)}).metrics_port == port
    else:
        with pytest.raises(SettingsError, match="metrics_port"):
            parse_settings({"metrics_port": str(port)})


@pytest.mark.parametrize("word, expected", [
    ("true", True), ("Yes", True), (" ON ", True), ("1", True), ("tRuE\t", True),
    ("false", False), ("no", False), ("OFF", False), ("0", False), (" False ", False),
])
def test_boolean_spellings(word, expected):
    assert parse_settings({"rest_api": word}).rest_api is expected


@pytest.mark.parametrize("word", ["", "maybe", "2", "y", "n", "enabled", "-1", "t rue"])
def test_other_boolean_words_are_refused(word):
    with pytest.raises(SettingsError, match=r"rest_api = .*expected true or false"):
        parse_settings({"rest_api": word})


def test_the_shipped_example_config_is_valid_and_spells_out_the_defaults():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "controller" / "qroute.conf.example"
    assert example.is_file(), f"{example} is tracked in the repository and must be there"
    assert read_settings([str(example)]) == Settings()


@pytest.mark.parametrize("policy", ["", "policy = milp\n"])
def test_checkpoint_without_a_learned_policy_is_refused(tmp_path, policy):
    path = write(tmp_path, "q.conf", f"[qroute]\n{policy}checkpoint = qnn-abilene\n")
    with pytest.raises(SettingsError) as error:
        read_settings([path])
    message = str(error.value)
    assert "checkpoint is only used by policy = qnn, mlp, dote or figret" in message and path in message


def test_default_checkpoint_follows_policy_topology_and_split(tmp_path):
    from controller.settings import default_checkpoint

    assert default_checkpoint(Settings(policy="qnn")) == "qnn-abilene"
    assert default_checkpoint(Settings(policy="qnn", split="true")) == "qnn-abilene"
    assert default_checkpoint(Settings(policy="qnn", split="false")) == "qnn-abilene-single"
    assert default_checkpoint(Settings(policy="mlp", topology="abilene")) == "mlp-abilene"
    assert default_checkpoint(Settings(policy="mlp", topology="abilene", split="false")) == \
        "mlp-abilene-single"
    assert default_checkpoint(Settings(policy="qnn", checkpoint="/x/y.pt")) == "/x/y.pt"
    assert default_checkpoint(Settings(policy="qnn", checkpoint="/x/y.pt", split="false")) == "/x/y.pt"


@pytest.mark.parametrize("kind", ["qnn", "mlp"])
@pytest.mark.parametrize("network", ["abilene", "geant"])
@pytest.mark.parametrize("split", ["auto", "true", "false"])
def test_every_default_checkpoint_is_shipped_and_trained_as_the_split_setting_says(kind, network, split):
    from controller.settings import default_checkpoint
    from qnn.models.checkpoint import read_sidecar, resolve

    name = default_checkpoint(Settings(policy=kind, topology=network, split=split))
    meta = read_sidecar(resolve(name))  # raises if it is not there
    assert meta["model"]["kind"] == kind and meta["topology"]["name"] == network
    assert bool(meta.get("single_path", False)) is (split == "false")


@pytest.mark.parametrize("policy, split, wanted", [
    ("shortest-path", "auto", False), ("shortest-path", "true", True), ("shortest-path", "false", False),
    ("milp", "auto", False), ("milp", "false", False),
    ("lp", "auto", True), ("lp", "true", True), ("lp", "false", False),
    ("qnn", "auto", None), ("qnn", "true", True), ("mlp", "false", False),  # None: the checkpoint says
])
def test_split_auto_means_what_each_policy_does_best(policy, split, wanted):
    from controller.settings import wanted_split

    assert wanted_split(parse_settings({"policy": policy, "split": split})) is wanted


def test_split_true_with_the_single_path_milp_is_refused(tmp_path):
    path = write(tmp_path, "q.conf", "[qroute]\npolicy = milp\nsplit = true\n")
    with pytest.raises(SettingsError) as error:
        read_settings([path])
    message = str(error.value)
    assert len(message.splitlines()) == 1 and message.startswith(path)
    assert "split = true" in message and "policy = milp" in message and "one path" in message


def test_the_lp_policy_is_accepted_and_takes_no_checkpoint(tmp_path):
    assert parse_settings({"policy": "lp"}).policy == "lp"
    path = write(tmp_path, "q.conf", "[qroute]\npolicy = lp\ncheckpoint = qnn-abilene\n")
    with pytest.raises(SettingsError,
                       match="checkpoint is only used by policy = qnn, mlp, dote or figret .policy is lp"):
        read_settings([path])


def test_the_api_token_stays_out_of_the_settings_repr_the_controller_logs():
    settings = parse_settings({"api_token": "s3cret-value"})
    assert settings.api_token == "s3cret-value" and "s3cret-value" not in repr(settings)


@pytest.mark.parametrize("key, value, says", [
    ("decision_timeout", "0", "greater than 0"),
    ("decision_timeout", "-1", "greater than 0"),
    ("decision_timeout", "soon", "could not convert"),
    ("mlu_tolerance", "-0.1", "0 or more"),
    ("max_moves", "-1", "0 or more"),
    ("max_moves", "2.5", "invalid literal"),
    ("hold_down", "-3", "0 or more"),
])
def test_bad_deadline_guard_and_churn_values_are_refused(tmp_path, key, value, says):
    path = write(tmp_path, "bad.conf", f"[qroute]\n{key} = {value}\n")
    with pytest.raises(SettingsError) as error:
        read_settings([path])
    message = str(error.value)
    assert key in message and path in message and says in message


def test_deadline_guard_and_churn_values_are_read(tmp_path):
    path = write(tmp_path, "q.conf", "[qroute]\ndecision_timeout = 0.25\nmlu_tolerance = 0\n"
                                     "max_moves = 4\nhold_down = 30\n")
    settings = read_settings([path])
    assert (settings.decision_timeout, settings.mlu_tolerance, settings.max_moves, settings.hold_down) == \
        (0.25, 0.0, 4, 30.0)


def test_the_decision_log_size_is_accepted_up_to_ten_thousand():
    assert parse_settings({"decision_log_size": "10000"}).decision_log_size == 10000
    assert parse_settings({"decision_log_size": "1"}).decision_log_size == 1
