"""The log formatter (relay/logs.py): every line parses, stays one line, carries its worker."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from relay import logs
from tests.logfmt import parse_json, parse_key_values

HOSTILE = 'a "quoted" value = with\nnewline\r\x1b]0;title\x07 tab\t back\\slash \u2028 end'


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    stream = io.StringIO()
    logger = logging.getLogger("test.logs")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield stream, logger
    logger.removeHandler(handler)


@pytest.mark.parametrize("fmt", logs.FORMATS)
def test_an_event_is_one_line_that_parses_back_to_its_values(captured, fmt: str) -> None:  # type: ignore[no-untyped-def]
    stream, logger = captured
    formatter = logs.JsonFormatter() if fmt == "json" else logs.KeyValueFormatter()
    logger.handlers[0].setFormatter(formatter)
    logs._Tag.worker = 3
    logs.event(logger, "attempt", id="ABC", reply=HOSTILE, empty="", none=None, n=7, tls=True)
    text = stream.getvalue()
    assert text.count("\n") == 1 and "\r" not in text and "\x1b" not in text
    assert "\u2028" not in text and "\x07" not in text
    parsed = parse_json(text) if fmt == "json" else parse_key_values(text.rstrip("\n"))
    assert parsed["event"] == "attempt" and parsed["id"] == "ABC"
    assert parsed["reply"] == HOSTILE
    assert parsed["level"] == "info" and parsed["time"].endswith("+00:00")
    if fmt == "json":
        assert (parsed["worker"], parsed["n"], parsed["tls"], parsed["none"]) == (3, 7, True, None)
    else:
        assert (parsed["worker"], parsed["n"], parsed["tls"], parsed["none"]) == (
            "3",
            "7",
            "yes",
            "-",
        )
        assert parsed["empty"] == ""


def test_a_message_line_with_a_traceback_stays_one_line(captured) -> None:  # type: ignore[no-untyped-def]
    stream, logger = captured
    logger.handlers[0].setFormatter(logs.KeyValueFormatter())
    logs._Tag.worker = logs.SUPERVISOR
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("worker %d exited", 0)
    line = stream.getvalue().rstrip("\n")
    assert "\n" not in line
    parsed = parse_key_values(line)
    assert parsed["msg"] == "worker 0 exited" and parsed["worker"] == "supervisor"
    assert parsed["level"] == "error" and "RuntimeError: boom" in parsed["error"]


def test_a_plain_minus_is_quoted_so_it_is_not_read_as_no_value() -> None:
    assert logs.key_values({"a": "-", "b": None}) == 'a="-" b=-'


def test_an_attempt_without_a_connection_says_the_relays_own_words(captured) -> None:  # type: ignore[no-untyped-def]
    stream, logger = captured
    logger.handlers[0].setFormatter(logs.JsonFormatter())
    from relay.delivery.outcome import Reply

    reply = Reply.synthetic_reply(550, "5.1.2", "the relay's DNS lookup found no domain x.example")
    attempt = SimpleNamespace(reply=reply, mx_host=None, tls=False, duration_ms=0)
    decision = SimpleNamespace(state="failed", reason="hostunknown", next_attempt_at=None)
    row = {"message": "M1", "address": "a@x.example", "attempts": 0, "created_at": 0.0}
    events, level = logging.getLogger("relay.events"), logging.getLogger("relay.events").level
    events.addHandler(logger.handlers[0])
    events.setLevel(logging.INFO)
    try:
        logs.attempt(row, attempt, decision, now=2.5)
    finally:
        events.removeHandler(logger.handlers[0])
        events.setLevel(level)
    line = json.loads(stream.getvalue())
    assert line["reply"] == "the relay's DNS lookup found no domain x.example"  # no "550"
    assert (line["mx"], line["tls"], line["dsn"], line["delay"]) == (None, None, "5.1.2", 2.5)


def test_aiosmtpd_debug_lines_never_show_even_when_verbose() -> None:
    """Its DEBUG lines carry the AUTH LOGIN exchange (base64 passwords)."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        logs.setup("text", worker=0, verbose=True)
        assert logging.getLogger("relay").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("mail.log").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
