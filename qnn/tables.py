"""Markdown tables, as every tool prints its results."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

_RULE = {"l": "---", "r": "---:"}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None,
                   tight_rule: bool = False) -> str:
    """A GitHub Markdown table: ``header`` cells, then one line per row (cells through ``str``).

    ``align`` has one letter per column, ``l`` (left) or ``r`` (right); default all left.
    ``tight_rule`` writes the separator line without spaces (``|---|---:|``)."""
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - set(_RULE):
        raise ValueError(f"align {align!r} must give l or r for each of the {len(header)} columns")
    rule = [_RULE[a] for a in align]
    lines = [_line(header), "|" + "|".join(rule) + "|" if tight_rule else _line(rule)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells, the header {len(header)}: {list(row)!r}")
        lines.append(_line(row))
    return "\n".join(lines)


def _line(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
