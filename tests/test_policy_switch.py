"""A run-time policy switch's request (controller.policy_switch), checked as the config file is."""
from __future__ import annotations

import pytest

from controller.policy_switch import ControlError, switched_settings
from controller.settings import Settings


@pytest.mark.parametrize("body, says", [
    ([], "JSON object"),
    ({}, "nothing to change"),
    ({"policy": "qnn", "checkpoints": "x"}, "unknown field(s) 'checkpoints'"),
    ({"policy": "ospf"}, "must be one of"),
    ({"policy": 3}, "must be one of"),
    ({"split": "yes"}, "'split' must be true, false"),
    ({"split": 1}, "'split' must be true, false"),
    ({"checkpoint": 7, "policy": "qnn"}, "'checkpoint' must be a string"),
    ({"policy": "milp", "split": True}, "routes every switch pair on one path"),
    ({"checkpoint": "qnn-abilene"}, "only used by policy = qnn, mlp, dote or figret"),
])
def test_a_bad_request_names_its_problem(body, says):
    with pytest.raises(ControlError) as refused:
        switched_settings(body, Settings())
    assert says in str(refused.value)


def test_the_fields_given_change_and_the_rest_stay():
    start = Settings(policy="qnn", checkpoint="qnn-abilene", split="false", stats_interval=0.5)
    assert (switched_settings({"split": True}, start).split,
            switched_settings({"split": True}, start).checkpoint) == ("true", "qnn-abilene")
    to_lp = switched_settings({"policy": "lp"}, start)
    # lp loads no checkpoint: the configured one is not carried over to it
    assert (to_lp.policy, to_lp.checkpoint, to_lp.split, to_lp.stats_interval) == ("lp", "", "false", 0.5)
    assert switched_settings({"split": "auto", "policy": "shortest-path"}, start).split == "auto"


def test_tunnels_configured_for_a_candidate_path_policy_do_not_stop_a_switch_to_shortest_paths(tmp_path):
    tunnels = tmp_path / "tunnels.txt"
    tunnels.write_text("0 1:0-1\n")
    start = Settings(policy="lp", topology="abilene", tunnels=str(tunnels))
    assert switched_settings({"policy": "shortest-path"}, start).policy == "shortest-path"
