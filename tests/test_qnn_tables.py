"""The one Markdown table formatter and the one MLU-ratio summary, on literal inputs."""
from __future__ import annotations

import math

import pytest

from qnn.summary import ratio_summary
from qnn.tables import markdown_table


def test_markdown_table_on_a_literal_table():
    table = markdown_table(("method", "mean", "n"), [("spf", "1.50", 3), ("lp", "1.00", 12)], "lrr")
    assert table == ("| method | mean | n |\n"
                     "| --- | ---: | ---: |\n"
                     "| spf | 1.50 | 3 |\n"
                     "| lp | 1.00 | 12 |")


def test_markdown_table_tight_rule_and_default_left_alignment():
    assert markdown_table(["a", "b"], [[1, 2]], tight_rule=True) == "| a | b |\n|---|---|\n| 1 | 2 |"


def test_markdown_table_without_rows_is_header_and_rule():
    assert markdown_table(["x"], [], "r") == "| x |\n| ---: |"


@pytest.mark.parametrize("header, rows, align", [(["a", "b"], [[1]], None), (["a", "b"], [[1, 2]], "l"),
                                                 (["a"], [[1]], "c")])
def test_markdown_table_refuses_rows_or_alignment_that_do_not_fit_the_header(header, rows, align):
    with pytest.raises(ValueError):
        markdown_table(header, rows, align)


def test_ratio_summary_of_a_hand_computed_array():
    # sorted 1..5: linear interpolation puts p90 at index 3.6 and p99 at index 3.96
    assert ratio_summary([3.0, 1.0, 5.0, 2.0, 4.0]) == pytest.approx(
        {"mean": 3.0, "p50": 3.0, "p90": 4.6, "p99": 4.96, "max": 5.0, "n": 5})


def test_ratio_summary_of_nothing_is_nan_and_a_nan_ratio_is_not_hidden():
    empty = ratio_summary([])
    assert empty["n"] == 0 and all(math.isnan(empty[key]) for key in ("mean", "p50", "p90", "p99", "max"))
    assert math.isnan(ratio_summary([1.0, math.nan])["mean"])
