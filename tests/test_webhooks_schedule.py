"""The retry schedule of webhook events: backoff with jitter, Retry-After as a floor, the last
try at max_age (a pure function, so hypothesis can try many cases)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.webhooks.schedule import DAY, DEFAULT_SCHEDULE, MAX_RETRY_AFTER, next_attempt

T0 = 1_767_261_600.0


def test_first_try_is_at_once() -> None:
    assert next_attempt(0, T0, T0) == T0


def test_without_jitter_the_standard_webhooks_schedule() -> None:
    """rand=0.5 is the middle of the jitter: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h after each
    failure, then the last try at one day."""
    now, times = T0, []
    for attempts in range(1, 20):
        when = next_attempt(attempts, T0, now, rand=0.5)
        if when is None:
            break
        times.append(when - T0)
        now = when
    assert times == [5, 305, 2105, 9305, 27305, 63305, DAY]


@given(
    attempts=st.integers(1, 40),
    elapsed=st.floats(0, 2 * DAY),
    rand=st.floats(0, 1, exclude_max=True),
    max_age=st.floats(0, 7 * DAY),
    retry_after=st.none() | st.floats(0, 10 * DAY),
)
def test_next_attempt_is_later_and_never_past_max_age(
    attempts: int, elapsed: float, rand: float, max_age: float, retry_after: float | None
) -> None:
    now = T0 + elapsed
    when = next_attempt(attempts, T0, now, max_age=max_age, rand=rand, retry_after=retry_after)
    if now >= T0 + max_age:
        assert when is None
        return
    assert when is not None
    assert now <= when <= T0 + max_age
    base = DEFAULT_SCHEDULE[min(attempts, len(DEFAULT_SCHEDULE)) - 1]
    assert when - now <= max(base * 1.2, min(retry_after or 0, MAX_RETRY_AFTER)) + 1e-6
    if when < T0 + max_age:  # not clamped: the jitter keeps the wait within +-20 %
        assert when - now >= base * 0.8 - 1e-6


def test_jitter_spreads_events_that_failed_together() -> None:
    times = {next_attempt(3, T0, T0 + 10, rand=r / 10) for r in range(10)}
    assert len(times) == 10
    assert min(times) - (T0 + 10) == pytest.approx(1800 * 0.8)
    assert max(times) - (T0 + 10) == pytest.approx(1800 * 1.16)  # rand 0.9


def test_retry_after_is_a_floor_not_a_shortcut() -> None:
    """A receiver may ask for more time (429/503 Retry-After), never for less than the
    schedule gives: a Retry-After: 0 cannot make the relay hammer it."""
    assert next_attempt(1, T0, T0, rand=0.5, retry_after=120) == T0 + 120
    assert next_attempt(1, T0, T0, rand=0.5, retry_after=0) == T0 + 5
    assert next_attempt(4, T0, T0, rand=0.5, retry_after=60) == T0 + 7200
    capped = next_attempt(1, T0, T0, rand=0.5, retry_after=30 * DAY, max_age=30 * DAY)
    assert capped == T0 + MAX_RETRY_AFTER


def test_the_last_try_is_at_max_age_then_none() -> None:
    assert next_attempt(7, T0, T0 + 20 * 3600, rand=0.5) == T0 + DAY
    assert next_attempt(8, T0, T0 + DAY) is None
    assert next_attempt(1, T0, T0, max_age=0) is None  # max_age 0: one try only


def test_a_short_schedule_for_tests() -> None:
    assert next_attempt(1, T0, T0, schedule=(0.1, 0.2), rand=0.5) == pytest.approx(T0 + 0.1)
    assert next_attempt(5, T0, T0, schedule=(0.1, 0.2), rand=0.5) == pytest.approx(T0 + 0.2)
