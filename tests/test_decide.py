"""Delivery decisions from replies (unit level: the classifier behind the seam is real)."""

from __future__ import annotations

from relay.delivery.decide import decide, retry_delay
from relay.delivery.outcome import Reply

SCHEDULE = (60.0, 120.0, 240.0)


def test_replies_map_to_states() -> None:
    ok = decide(Reply.from_server(250, "2.0.0 Ok: queued"), 1, 0, 10, SCHEDULE, 3600)
    assert ok.state == "delivered"
    unknown = decide(
        Reply.from_server(550, "5.1.1 <a@x>: User unknown", "RCPT"), 1, 0, 10, SCHEDULE, 3600
    )
    assert (unknown.state, unknown.reason, unknown.block_address) == (
        "bounced",
        "userunknown",
        True,
    )
    spam = decide(
        Reply.from_server(554, "5.7.1 Service unavailable; blocked using Spamhaus", "RCPT"),
        1,
        0,
        10,
        SCHEDULE,
        3600,
    )
    assert (spam.state, spam.block_address) == ("bounced", False)  # never blocks the customer
    later = decide(Reply.from_server(451, "4.3.0 try later", "RCPT"), 1, 0, 10, SCHEDULE, 3600)
    assert later.state == "deferred" and 10 + 54 <= (later.next_attempt_at or 0) <= 10 + 66


def test_deferred_past_max_age_expires_with_the_last_error() -> None:
    reply = Reply.synthetic_reply(451, "4.4.1", "connection refused")
    last = decide(reply, 3, 0, 3500, SCHEDULE, 3600)  # the next wait would pass the lifetime
    assert (last.state, last.next_attempt_at) == ("deferred", 3600)  # one last try at the end
    expired = decide(reply, 4, 0, 3600, SCHEDULE, 3600)
    assert (expired.state, expired.reason) == ("bounced", "expired")


def test_never_works_is_failed_without_retry() -> None:
    reply = Reply.synthetic_reply(556, "5.1.10", "null MX")
    result = decide(reply, 1, 0, 1, SCHEDULE, 3600, never_works=True)
    assert (result.state, result.next_attempt_at) == ("failed", None)


def test_retry_delay_follows_schedule_with_jitter_and_cap() -> None:
    assert all(54 <= retry_delay(SCHEDULE, 1) <= 66 for _ in range(50))
    assert all(216 <= retry_delay(SCHEDULE, 9) <= 264 for _ in range(50))  # last step repeats
