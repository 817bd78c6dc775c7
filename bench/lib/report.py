"""Plain-text tables and number formats for the benchmark output."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

MB = 1024 * 1024


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def command_line(command: Sequence[str]) -> str:
    return shlex.join(command)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def mib(size: int) -> str:
    return f"{size / MB:.0f}"


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "-"


def size_label(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:g} MB"
    if size >= 1000:
        return f"{size / 1000:g} KB"
    return f"{size} B"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"
