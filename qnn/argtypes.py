"""Command-line values checked up front: argparse types that refuse out-of-range numbers with
a message naming the rule, and output paths checked before the work that fills them."""
from __future__ import annotations

import argparse
import math
import os
import pathlib


def _number(kind, text: str):
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _checked(kind, accept, rule: str, name: str):
    """An argparse type: ``text`` as ``kind``, refused unless ``accept(value)`` (message: ``rule``)."""
    def parse(text: str):
        value = _number(kind, text)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must {rule}, not {value:g}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


positive_int = _checked(int, lambda v: v >= 1, "be at least 1", "positive_int")
nonnegative_int = _checked(int, lambda v: v >= 0, "not be negative", "nonnegative_int")
positive_float = _checked(float, lambda v: v > 0, "be greater than 0", "positive_float")
nonnegative_float = _checked(float, lambda v: v >= 0, "not be negative", "nonnegative_float")
open_fraction = _checked(float, lambda v: 0 < v < 1, "lie strictly between 0 and 1", "open_fraction")
probability = _checked(float, lambda v: 0 <= v <= 1, "lie between 0 and 1", "probability")


def at_least(low, kind=int):
    """An argparse type: a ``kind`` (int or float) no smaller than ``low``."""
    return _checked(kind, lambda v: v >= low, f"be at least {low:g}", f"{kind.__name__}_at_least_{low:g}")


def comma_list(item, allow_empty: bool = False):
    """An argparse type: comma-separated values, each read by the argparse type ``item``; blanks
    between commas are skipped, and an empty list is refused unless ``allow_empty``."""
    def parse(text: str) -> list:
        values = [item(part.strip()) for part in text.split(",") if part.strip()]
        if not values and not allow_empty:
            raise argparse.ArgumentTypeError(f"{text!r} names no value")
        return values

    parse.__name__ = f"comma_list_of_{item.__name__}"
    return parse


def names_from(choices):
    """An argparse type: comma-separated names, each one of ``choices``, at least one."""
    def parse(text: str) -> list[str]:
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [name for name in chosen if name not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(map(repr, unknown))} "
                                             f"(choose from {', '.join(choices)})")
        if not chosen:
            raise argparse.ArgumentTypeError(f"{text!r} names none of {', '.join(choices)}")
        return chosen

    parse.__name__ = "names"
    return parse


def writable_output(path: str, option: str, suffixes: tuple[str, ...] = ()) -> str:
    """``--option`` names a file that can be written: checked before hours of work, not after.
    Raises ValueError naming the option and the problem."""
    target = pathlib.Path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        raise ValueError(f"--{option} {path}: must end in {' or '.join(suffixes)}")
    folder = _nearest_existing(target.parent)
    if not folder.is_dir():
        raise ValueError(f"--{option} {path}: {folder} is not a folder")
    unwritable = target.exists() and not os.access(target, os.W_OK)
    if target.is_dir() or not os.access(folder, os.W_OK) or unwritable:
        raise ValueError(f"--{option} {path}: cannot write there")
    return path


def writable_folder(path: str, option: str) -> str:
    """``--option`` names a folder that files can be written into (made if missing).
    Raises ValueError naming the option and the problem."""
    folder = _nearest_existing(pathlib.Path(path))
    if not folder.is_dir():
        raise ValueError(f"--{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--{option} {path}: cannot write there")
    return path


def _nearest_existing(folder: pathlib.Path) -> pathlib.Path:
    """``folder`` or, where it is missing, the closest folder above it that exists: missing
    folders are made when the output is written."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
