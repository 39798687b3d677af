"""The ``qroute`` command line: a dispatcher; each tool lives in its own module.

Tools are listed in ``SUBCOMMANDS``: a module provides ``add_arguments(subparser)`` and
``run(args) -> int | None`` and is imported only when its tool is chosen, so ``qroute --help``
imports neither torch nor Mininet, and a missing or broken tool never breaks another. A module
may instead be a group of tools (``qroute lab``): it has its own ``SUBCOMMANDS`` table, read the
same way, and a ``precondition(args)`` that runs before any of its tools (and raises to refuse).

Every mistake gets one line on stderr, ``qroute <tool>: error: <message>``, and exit status 2:
bad options from the parser, bad input (``INPUT_ERRORS``) from the tool.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from qnn.errors import CheckpointError

# what bad input raises: malformed data files (DataFormatError is a ValueError) and values out
# of range, files that are missing or cannot be read (or need root), unusable checkpoints
INPUT_ERRORS = (CheckpointError, ValueError, FileNotFoundError, IsADirectoryError,
                NotADirectoryError, PermissionError)

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("qnn.bench.command", "compare routing methods on a sequence of traffic matrices"),
    "train": ("qnn.models.train", "train the QNN / MLP path selector, or a DOTE / FIGRET model"),
    "export-qasm": ("qnn.models.export", "export the trained circuit as OpenQASM"),
    "speed": ("qnn.bench.speed", "decision time against flow count: QNN, MLP and path LP"),
    "realism": ("qnn.models.realism", "the trained QNN under finite shots and depolarising noise"),
    "scale": ("qnn.bench.scale", "every baseline's decision time vs flow count on a large graph"),
    "rules": ("controller.rule_scale", "OpenFlow rules and groups per switch: tunnels against host pairs"),
    "lab": ("controller.lab.cli", "live tools in Mininet (root): demo, failover, replay, reliability, ha"),
}

# the parser's names for the chosen tool, outermost first (a group's tool has two)
TOOL_DESTS = ("command", "subcommand")


class OneLineErrorParser(argparse.ArgumentParser):
    """Bad options get one line, ``<prog>: error: <message>``, not argparse's usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the tool that ``argv`` chooses has its module imported."""
    return _build(list(argv or []))[0]


def _build(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The parser, and the chosen tool's own (the top one when ``argv`` chooses none)."""
    parser = OneLineErrorParser(prog="qroute", description="qroute: QNN traffic engineering tools",
                                epilog="qroute TOOL --help shows a tool's options")
    return parser, _add_tools(parser, SUBCOMMANDS, argv, depth=0)


def _add_tools(parser: argparse.ArgumentParser, table: dict[str, tuple[str, str]], argv: list[str],
               depth: int) -> argparse.ArgumentParser:
    sub = parser.add_subparsers(dest=TOOL_DESTS[depth], metavar="TOOL", required=True)
    chosen = parser
    for name, (module, help_text) in table.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if argv[:1] != [name]:
            continue
        tool = importlib.import_module(module)
        if hasattr(tool, "SUBCOMMANDS"):
            chosen = _add_tools(p, tool.SUBCOMMANDS, argv[1:], depth + 1)
            p.set_defaults(precondition=tool.precondition)
        else:
            tool.add_arguments(p)
            p.set_defaults(run=tool.run)
            chosen = p
    return chosen


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, tool_parser = _build(argv)
    except ImportError as err:
        print(f"qroute {argv[0]}: not available ({err})", file=sys.stderr)
        return 2
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the tool's parser: argparse would say "qroute: error"
        tool_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    tool = " ".join(getattr(args, dest) for dest in TOOL_DESTS if getattr(args, dest, None))
    try:
        if getattr(args, "precondition", None):
            args.precondition(args)
        return int(args.run(args) or 0)
    except INPUT_ERRORS as error:
        # bad files and values get one line naming them; QROUTE_TRACEBACK=1 shows where
        if os.environ.get("QROUTE_TRACEBACK"):
            raise
        print(f"qroute {tool}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
