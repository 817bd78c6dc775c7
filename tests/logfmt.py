"""Read the log of `relay serve` as a log tool would: key=value (logfmt) or JSON lines."""

from __future__ import annotations

import json
import re
from typing import Any

_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)')


def parse_key_values(line: str) -> dict[str, str]:
    """One key=value line; a quoted value is a JSON string. Fails on anything else."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(line):
        match = _PAIR.match(line, pos)
        assert match, f"not key=value at column {pos}: {line!r}"
        key, value = match.group(1), match.group(2)
        assert key not in fields, f"{key} twice in {line!r}"
        fields[key] = json.loads(value) if value.startswith('"') else value
        pos = match.end()
    return fields


def parse_json(line: str) -> dict[str, Any]:
    data = json.loads(line)
    assert isinstance(data, dict), line
    return data


def events(text: str, fmt: str = "text") -> list[dict[str, Any]]:
    """Every line of a log, parsed (each must parse)."""
    parse = parse_json if fmt == "json" else parse_key_values
    return [parse(line) for line in text.splitlines() if line.strip()]
