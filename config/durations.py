"""Parse the human durations and sizes used in relay.toml.

Durations: "90s", "5m", "1h20m", "5d". A retry schedule is a comma list of durations where
"4h*30" repeats 4h thirty times (the Postfix-style "then every 4 hours" tail).
"""

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_SIZE_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2}


class ValueFormatError(ValueError):
    """A value that does not have the expected format; the loader adds the key name."""


def parse_duration(text: str) -> float:
    """'1h20m' -> 4800.0 seconds."""
    s = text.strip().replace(" ", "")
    if not s:
        raise ValueFormatError(f"{text!r} is not a duration (try '90s', '5m', '1h20m', '5d')")
    pos, total = 0, 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s):
        raise ValueFormatError(f"{text!r} is not a duration (try '90s', '5m', '1h20m', '5d')")
    return total


def parse_schedule(text: str) -> tuple[float, ...]:
    """'5m, 10m, 4h*3' -> (300, 600, 14400, 14400, 14400)."""
    delays: list[float] = []
    for index, item in enumerate(text.split(",")):
        base, _, repeat = item.strip().partition("*")
        try:
            delay = parse_duration(base)
        except ValueFormatError as exc:
            raise ValueFormatError(f"[{index}]: {exc}") from None
        count = 1
        if repeat:
            if not re.fullmatch(r"[0-9]+", repeat.strip()) or int(repeat) < 1:
                raise ValueFormatError(f"[{index}]: {item.strip()!r} repeat count must be >= 1")
            count = int(repeat)
        delays.extend([delay] * count)
    return tuple(delays)


def parse_size(text: str | int) -> int:
    """'25MB' -> 25_000_000 bytes; an int is taken as bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _SIZE_UNITS:
        raise ValueFormatError(f"{text!r} is not a size (try '25MB', '512KB')")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]
