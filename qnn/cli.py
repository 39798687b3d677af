"""The ``qroute`` command line: a dispatcher; each subcommand lives in its own module.

Subcommands are listed in ``SUBCOMMANDS``; a module provides ``add_arguments(subparser)`` and
``run(args) -> int | None`` and is imported only when its subcommand is chosen, so a missing or
broken one never breaks another.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from qnn.errors import CheckpointError

# what bad input raises: malformed data files (DataFormatError is a ValueError) and values out
# of range, files that are missing or cannot be read, unusable checkpoints
INPUT_ERRORS = (CheckpointError, ValueError, FileNotFoundError, IsADirectoryError,
                NotADirectoryError, PermissionError)

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("qnn.bench.command", "compare routing methods on a sequence of traffic matrices"),
    "train": ("qnn.models.train", "train the QNN / MLP path selector"),
    "export-qasm": ("qnn.models.export", "export the trained circuit as OpenQASM"),
}


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the subcommand named by ``load`` has its module imported."""
    parser = argparse.ArgumentParser(prog="qroute", description="qroute: QNN traffic engineering tools")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == load:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    load = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    try:
        parser = build_parser(load)
    except ImportError as err:
        print(f"qroute {load}: not available ({err})", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except INPUT_ERRORS as error:
        # bad files and values get one line naming them; QROUTE_TRACEBACK=1 shows where
        if os.environ.get("QROUTE_TRACEBACK"):
            raise
        print(f"qroute {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
