"""Operator pins and the API token: parsing against a live graph, and what a pin overrides."""
from __future__ import annotations

import os
import stat

import networkx as nx
import pytest

from controller.api_token import bearer_matches, provision_token
from controller.pins import PinError, Pins, parse_pair, parse_pin


@pytest.fixture
def diamond():
    """1 -> 2 -> 4 and 1 -> 3 -> 4, both ways."""
    graph = nx.DiGraph()
    for a, b in ((1, 2), (2, 4), (1, 3), (3, 4)):
        graph.add_edge(a, b)
        graph.add_edge(b, a)
    return graph


def test_a_pin_is_checked_against_the_graph_and_its_weights_normalised(diamond):
    split = parse_pin((1, 4), {"paths": [[1, 2, 4], [1, 3, 4]], "weights": [3, 1]}, diamond)
    assert split == (((1, 2, 4), 0.75), ((1, 3, 4), 0.25))
    assert parse_pin((1, 4), {"paths": [[1, 3, 4]]}, diamond) == (((1, 3, 4), 1.0),)
    huge = parse_pin((1, 4), {"paths": [[1, 2, 4], [1, 3, 4]], "weights": [1e308, 1e308]}, diamond)
    assert [weight for _, weight in huge] == [0.5, 0.5]  # their sum would overflow


@pytest.mark.parametrize("body, problem", [
    ([1, 2], "JSON object"),
    ({"paths": [[1, 2, 4]], "colour": "red"}, "unknown field(s) 'colour'"),
    ({"paths": []}, "non-empty list"),
    ({"paths": "1-2-4"}, "non-empty list"),
    ({"paths": [[1, 2, 4]], "weights": [1, 2]}, "list of 1 numbers"),
    ({"paths": [[1, "2", 4]]}, "paths[0] must be a list of at least two dpids"),
    ({"paths": [[1, 2, 4], [True, 4]]}, "paths[1] must be a list"),
    ({"paths": [[2, 4]]}, "runs 2 -> 4, not 1 -> 4"),
    ({"paths": [[1, 2, 1, 3, 4]]}, "visits a switch twice"),
    ({"paths": [[1, 4]]}, "link(s) the controller does not see: 1-4"),
    ({"paths": [[1, 2, 4]], "weights": [0]}, "weights[0] must be a finite number greater than 0"),
    ({"paths": [[1, 2, 4]], "weights": [float("nan")]}, "weights[0]"),
    ({"paths": [[1, 2, 4]], "weights": ["1"]}, "weights[0]"),
    ({"paths": [[1, 2, 4], [1, 2, 4]]}, "given twice"),
    ({"paths": [[1, 2, 4]] * 9}, "at most 8"),
])
def test_a_bad_pin_is_refused_naming_the_problem(diamond, body, problem):
    with pytest.raises(PinError) as refused:
        parse_pin((1, 4), body, diamond)
    assert problem in str(refused.value)


def test_a_pin_over_a_drained_link_says_drained_not_unseen(diamond):
    diamond.remove_edges_from([(2, 4), (4, 2)])  # drained: out of the graph the pin is checked on
    with pytest.raises(PinError, match=r"paths\[0\] uses drained link\(s\) 2-4"):
        parse_pin((1, 4), {"paths": [[1, 2, 4]]}, diamond, drained={(2, 4)})
    with pytest.raises(PinError, match="does not see: 2-4"):
        parse_pin((1, 4), {"paths": [[1, 2, 4]]}, diamond)


@pytest.mark.parametrize("text", ["1", "1-2-3", "a-b", "-1-2", "3-3", "1-", "\u00b2-3"])
def test_a_pair_is_two_distinct_decimal_dpids(text):
    with pytest.raises(PinError):
        parse_pair(text)
    assert parse_pair("12-7") == (12, 7)


def test_a_pin_overrides_the_decision_while_its_paths_are_intact(diamond):
    pins = Pins()
    pinned = (((1, 3, 4), 1.0),)
    pins.pin((1, 4), pinned)
    pins.pin((2, 3), (((2, 1, 3), 1.0),))  # a pair without hosts is not routed
    decided = {(1, 4): (((1, 2, 4), 1.0),), (4, 1): (((4, 2, 1), 1.0),)}
    pairs = {(1, 4), (4, 1)}
    assert pins.apply(decided, diamond, pairs) == {(1, 4): pinned, (4, 1): (((4, 2, 1), 1.0),)}
    diamond.remove_edge(3, 4)  # the pinned path broke: the policy's decision stands
    assert pins.apply(decided, diamond, pairs) == decided
    assert pins.unpin((1, 4)) and not pins.unpin((1, 4))


def test_a_generated_token_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "sub" / "api-token"
    token, where = provision_token("", str(path))
    assert where == str(path) and path.read_text().strip() == token and len(token) >= 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    again, _ = provision_token("", str(path))
    assert again != token and path.read_text().strip() == again  # replaced, not appended
    assert provision_token("s3cret", str(path)) == ("s3cret", "[qroute] api_token")


@pytest.mark.parametrize("header, ok", [
    ("Bearer s3cret", True), ("bearer s3cret", True), ("Bearer  s3cret ", True),
    ("Bearer s3cre", False), ("Basic s3cret", False), ("s3cret", False), (None, False), ("", False),
    ("Bearer s3crét", False),  # not ASCII: compared all the same, never an exception
])
def test_the_bearer_header_must_carry_the_token(header, ok):
    assert bearer_matches(header, "s3cret") is ok
    assert not bearer_matches("Bearer ", "")  # no token configured: nothing matches
