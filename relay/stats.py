"""Rates that matter to a shop's reputation (issue 14 item 7): per shop and day for 30 days,
and the last 7 days' bounce and complaint rates against the limits mailbox providers publish.

One function, `shop_rates`, for `relay status` (and `--json`) and the console's 30-day view.

- Complaint rate = complaints (ARF reports) / delivered. Gmail's and Yahoo's sender guidelines
  for bulk senders (in force since February 2024) ask to stay below 0.1 % and never reach
  0.3 %: a warning above 0.1 %, trouble from 0.3 %. Gmail sends no ARF reports (its users'
  complaints are in Postmaster Tools), so this rate counts the providers with feedback loops.
- Bounce rate = bounced / (delivered + bounced): of the messages a receiving server decided
  on, the share it refused (now or by a later DSN; `failed`, never sent, is not counted). No
  big mailbox provider publishes a bounce limit; the figures used are Amazon SES's published
  ones (Developer Guide, "Sending review process FAQs": keep it below 2 %; an account is put
  under review at 5 %): a warning above 2 %, trouble from 5 %.
- Rates of fewer than 100 messages in 7 days say little: they are shown, never warned about.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

from relay.store.days import COLUMNS, DAY, day_of, days
from relay.store.sql import Conn

WINDOW_DAYS = 30
RATE_DAYS = 7
MIN_VOLUME = 100
COMPLAINT_WARNING, COMPLAINT_TROUBLE = 0.001, 0.003  # Gmail/Yahoo bulk sender guidelines
BOUNCE_WARNING, BOUNCE_TROUBLE = 0.02, 0.05  # Amazon SES's published figures
FIELDS = tuple(COLUMNS.values())  # delivered, deferred, bounced, failed, suppressed, ...


@dataclass(frozen=True)
class Rate:
    name: str  # "bounce" | "complaint"
    value: float | None  # None: nothing to divide by
    count: int  # bounces or complaints
    of: int  # the messages it is a share of
    level: str  # "ok" | "warning" | "trouble" | "too-few"
    warning: float
    trouble: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": self.value,
            "count": self.count,
            "of": self.of,
            "level": self.level,
            "warning_above": self.warning,
            "trouble_from": self.trouble,
        }

    def words(self) -> str:
        shown = "-" if self.value is None else f"{self.value * 100:.2f} %"
        limits = f"warning above {self.warning * 100:g} %, trouble from {self.trouble * 100:g} %"
        return f"{self.name} rate {shown} ({self.count} of {self.of}; {limits})"


@dataclass(frozen=True)
class ShopRates:
    shop: str
    days: list[dict[str, Any]]  # WINDOW_DAYS of {"day": "YYYY-MM-DD", field: count, ...}
    week: dict[str, int]  # the last RATE_DAYS summed
    bounce: Rate
    complaint: Rate

    @property
    def warnings(self) -> list[str]:
        return [
            f"{r.words()}: {r.level}" for r in (self.bounce, self.complaint) if r.level in _LOUD
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "shop": self.shop,
            "days": self.days,
            "last_7_days": self.week,
            "bounce_rate": self.bounce.as_dict(),
            "complaint_rate": self.complaint.as_dict(),
            "warnings": self.warnings,
        }


_LOUD = ("warning", "trouble")


def _rate(name: str, count: int, of: int, warning: float, trouble: float) -> Rate:
    value = count / of if of else None
    if of < MIN_VOLUME:
        level = "too-few"
    elif value is not None and value >= trouble:
        level = "trouble"
    elif value is not None and value > warning:
        level = "warning"
    else:
        level = "ok"
    return Rate(name, value, count, of, level, warning, trouble)


def _date(day: int) -> str:
    return datetime.datetime.fromtimestamp(day * DAY, datetime.UTC).strftime("%Y-%m-%d")


def shop_rates(conn: Conn, now: float | None = None, shop: str | None = None) -> list[ShopRates]:
    """Every shop that sent anything in the last 30 days (or `shop`), by name."""
    today = day_of(time.time() if now is None else now)
    first = today - WINDOW_DAYS + 1
    by_shop: dict[str, dict[int, dict[str, int]]] = {}
    for row in days(conn, first, shop):
        by_shop.setdefault(row["shop"], {})[row["day"]] = {f: int(row[f]) for f in FIELDS}
    out = []
    for name, counted in sorted(by_shop.items()):
        zero = dict.fromkeys(FIELDS, 0)
        series = [{"day": _date(d), **counted.get(d, zero)} for d in range(first, today + 1)]
        week = {f: sum(d[f] for d in series[-RATE_DAYS:]) for f in FIELDS}
        decided = week["delivered"] + week["bounced"]
        bounce = _rate("bounce", week["bounced"], decided, BOUNCE_WARNING, BOUNCE_TROUBLE)
        complaint = _rate(
            "complaint", week["complained"], week["delivered"], COMPLAINT_WARNING, COMPLAINT_TROUBLE
        )
        out.append(ShopRates(name, series, week, bounce, complaint))
    return out
