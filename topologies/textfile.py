"""Reading the data's text files: bytes that are not UTF-8 are a DataFormatError naming the
file and line, not a UnicodeDecodeError naming neither."""
from __future__ import annotations

import pathlib

from topologies.errors import DataFormatError


def numbered_lines(path: pathlib.Path):
    """(line number, line) of a text file, one line at a time."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataFormatError(path, lineno, f"not UTF-8 text ({error.reason} at byte "
                                                    f"{error.start + 1} of the line)") from None


def read_text(path: pathlib.Path) -> str:
    """The whole file as text."""
    return "".join(line for _, line in numbered_lines(path))
