"""When to try a webhook event again: backoff with jitter, up to `[webhooks] max_age`.

The default schedule is the Standard Webhooks example (and Svix's): immediately, then 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h after each failure; the last wait repeats. Each wait is
spread by +-20 % so that events that failed together (an endpoint that went down) do not come
back together (Standard Webhooks, "Deliverability and reliability": "some level of random
jitter"). The last try is at `first_at + max_age` exactly, so an endpoint that is down for most
of the day still gets its events at the end of it; after that try there is none.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

DAY = 86400.0
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.2  # each wait is multiplied by a factor in [1 - JITTER, 1 + JITTER)
# A receiver's Retry-After is honoured as "not before", but no receiver may park an event for
# longer than this on one answer (RFC 9110 §10.2.3 allows any delay).
MAX_RETRY_AFTER = 6 * 3600.0


def next_attempt(
    attempts: int,
    first_at: float,
    now: float,
    *,
    max_age: float = DAY,
    schedule: Sequence[float] = DEFAULT_SCHEDULE,
    retry_after: float | None = None,
    rand: float | None = None,
) -> float | None:
    """The time of the next POST of an event, or None when it has had its last try.

    attempts: POSTs made so far (0: none yet, the event is due at first_at). first_at: when the
    event was written (the clock of max_age). now: when the last attempt ended. retry_after:
    seconds the receiver asked for (429/503 Retry-After): the next try is no earlier than that,
    and never earlier than the schedule says either, so a receiver cannot make us hammer it.
    rand: a number in [0, 1) for the jitter (random.random() when None; tests pass it).
    """
    if attempts <= 0:
        return first_at
    deadline = first_at + max_age
    if now >= deadline:
        return None
    base = schedule[min(attempts, len(schedule)) - 1] if schedule else 0.0
    spread = random.random() if rand is None else rand
    delay = base * (1 - JITTER + 2 * JITTER * spread)
    if retry_after is not None:
        delay = max(delay, min(max(retry_after, 0.0), MAX_RETRY_AFTER))
    return min(now + delay, deadline)
