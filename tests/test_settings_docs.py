"""controller/qroute.conf.example documents every [qroute] option, with its default, and nothing else."""
from __future__ import annotations

import dataclasses
import pathlib

import pytest

from controller.settings import CHOICES, SECTION, Settings, parse_settings

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "controller" / "qroute.conf.example"


def documented_options(text: str) -> dict[str, tuple[str, list[str]]]:
    """option -> (value as written, the comment lines just above it) in the [qroute] section."""
    options: dict[str, tuple[str, list[str]]] = {}
    section, comment = None, []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section, comment = stripped[1:-1], []
        elif stripped.startswith(("#", ";")):
            comment.append(stripped.lstrip("#; "))
        elif "=" in stripped and section == SECTION:
            key, value = (part.strip() for part in stripped.split("=", 1))
            assert key not in options, f"{key} documented twice"
            options[key] = (value, comment)
            comment = []
        elif not stripped:
            comment = []
    return options


@pytest.fixture(scope="module")
def documented():
    return documented_options(EXAMPLE.read_text(encoding="utf-8"))


def test_the_parser_reads_options_with_their_comments():
    text = "# ryu\n[qroute]\n# first\n# second\na = 1\nb =\n\n# ignored\n[other]\n# c\nc = 3\n"
    assert documented_options(text) == {"a": ("1", ["first", "second"]), "b": ("", [])}


def test_every_option_of_the_example_is_a_setting_and_every_setting_is_in_it(documented):
    assert set(documented) == {field.name for field in dataclasses.fields(Settings)}


def test_every_option_is_documented_above_its_line(documented):
    undocumented = [key for key, (_, comment) in documented.items() if not any(comment)]
    assert not undocumented


@pytest.mark.parametrize("field", dataclasses.fields(Settings), ids=lambda field: field.name)
def test_the_example_gives_each_option_its_default(documented, field):
    value, _ = documented[field.name]
    assert getattr(parse_settings({field.name: value}), field.name) == field.default


@pytest.mark.parametrize("option", sorted(CHOICES))
def test_every_choice_of_an_option_is_named_in_its_comment(documented, option):
    _, comment = documented[option]
    words = " ".join(comment).replace("|", " ").replace(",", " ").replace(":", " ").split()
    assert [choice for choice in CHOICES[option] if choice not in words] == []
