"""Review 3: a hostile webhook receiver's Retry-After makes Sender.send raise.

`parse_retry_after` takes `text.isdigit()` as "delay-seconds" and calls `int(text)`. str.isdigit
is true for characters int() does not take ("²", superscript two) and for numbers longer than
Python's 4300-digit int-conversion limit, so int() raises ValueError. judge_response runs inside
Sender._post's `try`, which catches only TimeoutError, ClientError and OSError: the ValueError
escapes `send`, whose contract is "never raises for anything the network or the receiver does".
In the outbox worker the row is then never recorded: it stays leased, is re-POSTed each time the
lease runs out, never counts an attempt, never reaches `[webhooks] max_age`, and holds back
every later event of the same message (the sequence order).
"""

from __future__ import annotations

import asyncio

import pytest

from relay.webhooks.sender import Outcome, judge_response
from tests.test_webhooks_sender import send_one
from tests.webhook_receiver import Answer


@pytest.mark.parametrize("value", ["\u00b2", "9" * 5000])
def test_judge_response_survives_any_retry_after(value: str) -> None:
    result = judge_response(503, {"Retry-After": value}, b"", 0.0)
    assert result.outcome is Outcome.RETRY


def test_send_to_a_receiver_with_a_superscript_retry_after_returns_retry() -> None:
    # A real receiver on loopback answering 503 with `Retry-After: ²` (UTF-8 on the wire).
    result = asyncio.run(send_one("/hook", [Answer(503, {"Retry-After": "\u00b2"})]))
    assert result.outcome is Outcome.RETRY
    assert result.status == 503
