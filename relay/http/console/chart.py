"""The 30-day picture of a shop's mail, as geometry for an SVG drawn on the server (no script,
no chart library): per day a stacked bar of delivered, deferred and bounced messages, and
below it a strip of complaints and opt-outs (few, so on a scale of their own, else they would
never show). The figures are relay.stats.shop_rates', the ones `relay status` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, MAIN_HEIGHT, STRIP_HEIGHT, GAP = 600, 160, 50, 24
LEFT, BOTTOM = 40, 20
SERIES = (  # key, colour (readable on white; told apart by position and legend too)
    ("delivered", "#2e7d32"),
    ("deferred", "#b26a00"),
    ("bounced", "#c62828"),
)
STRIP = (("complained", "#6a1b9a"), ("opted_out", "#1565c0"))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # "2025-07-15: 12 delivered" (the SVG <title> of the bar)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    main_top: float
    main_bottom: float
    strip_top: float
    strip_bottom: float
    main_max: int
    strip_max: int
    first_day: str
    last_day: str
    left: int


def chart(days: list[dict[str, Any]], names: dict[str, str]) -> Chart:
    """`days`: relay.stats.ShopRates.days (oldest first); `names`: series key -> its words."""
    count = max(len(days), 1)
    slot = (WIDTH - LEFT) / count
    bar_width = max(slot * 0.7, 1.0)
    main_max = max((sum(d[k] for k, _ in SERIES) for d in days), default=0)
    strip_max = max((max(d[k] for k, _ in STRIP) for d in days), default=0)
    main_top, main_bottom = 8.0, 8.0 + MAIN_HEIGHT
    strip_top = main_bottom + GAP
    strip_bottom = strip_top + STRIP_HEIGHT
    bars: list[Bar] = []
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar_width) / 2
        bars += _stack(day, x, bar_width, main_bottom, MAIN_HEIGHT, main_max, names)
        bars += _strip(day, x, bar_width, strip_bottom, STRIP_HEIGHT, strip_max, names)
    return Chart(
        width=WIDTH,
        height=int(strip_bottom + BOTTOM),
        bars=bars,
        main_top=main_top,
        main_bottom=main_bottom,
        strip_top=strip_top,
        strip_bottom=strip_bottom,
        main_max=main_max,
        strip_max=strip_max,
        first_day=days[0]["day"] if days else "",
        last_day=days[-1]["day"] if days else "",
        left=LEFT,
    )


def _stack(
    day: dict[str, Any], x: float, width: float, bottom: float, height: float, top: int,
    names: dict[str, str],
) -> list[Bar]:  # fmt: skip
    bars, y = [], bottom
    for key, colour in SERIES:
        value = day[key]
        if not value or not top:
            continue
        size = height * value / top
        y -= size
        bars.append(Bar(x, y, width, size, colour, f"{day['day']}: {value} {names[key]}"))
    return bars


def _strip(
    day: dict[str, Any], x: float, width: float, bottom: float, height: float, top: int,
    names: dict[str, str],
) -> list[Bar]:  # fmt: skip
    """Complaints and opt-outs side by side within the day's slot."""
    bars = []
    half = width / 2
    for offset, (key, colour) in enumerate(STRIP):
        value = day[key]
        if not value or not top:
            continue
        size = max(height * value / top, 2.0)
        label = f"{day['day']}: {value} {names[key]}"
        bars.append(Bar(x + offset * half, bottom - size, half, size, colour, label))
    return bars
