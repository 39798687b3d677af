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
        raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
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


def writable_output(path: str, option: str, suffixes: tuple[str, ...] = ()) -> str:
    """``--option`` names a file that can be written: checked before hours of work, not after.
    Raises ValueError naming the option and the problem."""
    target = pathlib.Path(path)
    if suffixes and target.suffix.lower() not in suffixes:
        raise ValueError(f"--{option} {path}: must end in {' or '.join(suffixes)}")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # missing folders are made when the file is written
    if not folder.is_dir():
        raise ValueError(f"--{option} {path}: {folder} is not a folder")
    if target.is_dir() or not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ValueError(f"--{option} {path}: cannot write there")
    return path
