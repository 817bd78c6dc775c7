"""How many reports one sender may leave that prove nothing, per day.

The complaint address takes reports from anyone (no token), and each is stored raw before it is
read. A report that turns out `unrecognized` or `unverified` proves nothing; past
MAX_UNMATCHED_PER_DAY of them from one envelope sender (the null sender `<>` counts as one), a
further report to the complaint address is refused at RCPT with 452 (RFC 5321 4.5.3.1.10:
try again later; a feedback loop's real reports then arrive the next day). Bounces to a signed
bounce address prove their recipient by the HMAC and are never counted or refused.

Counted per worker, in memory: a restart forgives, and a sender spread over several workers
gets the cap once on each. That bounds what one sender stores without a query per RCPT.
"""

from __future__ import annotations

import time

MAX_UNMATCHED_PER_DAY = 100
MAX_SENDERS = 10_000  # senders counted at once; past it the day starts over (memory bound)
_DAY = 86400


class UnmatchedQuota:
    def __init__(self, limit: int = MAX_UNMATCHED_PER_DAY) -> None:
        self.limit = limit
        self._day = -1
        self._counts: dict[str, int] = {}

    def full(self, sender: str) -> bool:
        self._roll()
        return self._counts.get(sender.lower(), 0) >= self.limit

    def count(self, sender: str) -> None:
        self._roll()
        if len(self._counts) >= MAX_SENDERS:
            self._counts.clear()
        key = sender.lower()
        self._counts[key] = self._counts.get(key, 0) + 1

    def _roll(self) -> None:
        day = int(time.time() // _DAY)
        if day != self._day:
            self._day, self._counts = day, {}
