"""X-Relay-Template and X-Relay-Layout on hostile input from a shop: what a shop's software
sends is answered at once (linear checks, caps before parsing, rendering off the event loop),
and without a To header no customer's copy names another customer.

Unit tests: the submission path every way in shares (`submit_now`: parse, render, sign, store)
on a real SQLite store, timed in a child process with a deadline (a quadratic pattern holds the
GIL). Live: `relay serve`, the shop over STARTTLS + AUTH, a probe for the 220 greeting.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import itertools
import json
import smtplib
import string
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import relay.submit
from relay.prepare.pipeline import Rejection
from relay.prepare.templated import MAX_JSON, MAX_LAYOUT_PARTS
from relay.render import sample_data
from relay.signing import Signer
from relay.submit import SubmissionDeps, Submitter
from tests.live import greetings_while, one_worker_relay, shop_sends, stop_quickly
from tests.shop_submit import SENDER, SHOP, shop_database, submit
from tests.timed import seconds_to_run


def layout_message(spaces: int) -> bytes:
    html = "<html><body><p>Ihre Bestellung</p><img src=" + " " * spaces + "></body></html>"
    encoded = base64.encodebytes(html.encode()).replace(b"\n", b"\r\n")
    head = (
        "From: info@shop.example.com\r\nTo: max@example.org\r\nSubject: Ihre Bestellung\r\n"
        "X-Relay-Layout: shop\r\nX-Relay-Order: 1002\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode() + encoded


SUBMIT_LAYOUT = """
from pathlib import Path
from relay.prepare.pipeline import Rejection
from tests.shop_submit import shop_database, submit
from tests.test_templated_limits import layout_message

db, settings = shop_database(Path(DIRECTORY))
try:
    submit(db, settings, layout_message(60_000), ["max@example.org"])
except Rejection:
    pass  # refusing it is as good: what matters is that the answer comes at once
"""


def test_a_layout_message_with_a_long_run_of_white_space_is_answered_at_once(
    tmp_path: Path,
) -> None:
    # 60 K spaces after `src=`: once ~14 s (the cid: check backtracked); now milliseconds.
    took = seconds_to_run(SUBMIT_LAYOUT.replace("DIRECTORY", repr(str(tmp_path))), deadline=8.0)
    assert took is not None, "the submission path was still busy with one message after 8 s"


def test_other_sessions_are_greeted_while_a_layout_message_is_prepared(tmp_path: Path) -> None:
    relay = one_worker_relay(tmp_path / "relay").start()

    def send() -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):  # the relay stops first
            shop_sends(relay, layout_message(60_000), ["m@example.org"])

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        seen = greetings_while(relay.submission_port, seconds=6)
        assert all(t is not None for t in seen), f"greeting times (None: no 220 in 3 s): {seen}"
    finally:
        stop_quickly(relay)


def many_parts_message(parts: int) -> bytes:
    head = (
        "From: info@shop.example.com\r\nTo: max@example.org\r\nSubject: Ihre Bestellung\r\n"
        "X-Relay-Layout: shop\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    )
    part = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    html = "--b\r\nContent-Type: text/html\r\n\r\n<p>Hallo</p>\r\n"
    return (head + html + part * parts + "--b--\r\n").encode()


def test_a_layout_message_with_thousands_of_parts_is_refused_before_parsing(
    tmp_path: Path,
) -> None:
    db, settings = shop_database(tmp_path)
    with pytest.raises(Rejection) as refused:
        submit(db, settings, many_parts_message(20_000), ["max@example.org"])
    assert refused.value.reply.startswith("550 5.6.0"), refused.value.reply
    assert f"at most {MAX_LAYOUT_PARTS} MIME parts" in refused.value.reply
    submit(db, settings, many_parts_message(3), ["max@example.org"])  # a real one passes


def many_names_json() -> bytes:
    """The most distinct names a body within MAX_JSON can hold (two or three characters each)."""
    letters = string.ascii_letters + string.digits
    names = ("".join(p) for n in (2, 3) for p in itertools.product(letters, repeat=n))
    data: dict[str, int] = {}
    size = len('{"data": {}}')
    for name in names:
        size += len(name) + 5  # "ab":0,
        if size > MAX_JSON - 64:
            break
        data[name] = 0
    body = json.dumps({"data": data}, separators=(",", ":")).encode()
    assert len(body) <= MAX_JSON
    return body


def templated(body: bytes) -> bytes:
    head = (
        "From: info@shop.example.com\r\nTo: max@example.org\r\n"
        "X-Relay-Template: payment-reminder\r\nX-Relay-Order: 1003\r\n"
        "Content-Type: application/json\r\n\r\n"
    )
    return head.encode() + body + b"\r\n"


SUBMIT_JSON = """
from pathlib import Path
from relay.prepare.pipeline import Rejection
from tests.shop_submit import shop_database, submit
from tests.test_templated_limits import many_names_json, templated

db, settings = shop_database(Path(DIRECTORY))
try:
    submit(db, settings, templated(many_names_json()), ["max@example.org"])
except Rejection as refused:
    assert refused.reply.startswith("550 5.6.0"), refused.reply
else:
    raise AssertionError("a payment reminder with 36,000 data fields was accepted")
"""


def test_a_json_body_with_many_names_is_refused_at_once(tmp_path: Path) -> None:
    # 33,000 names: once 14 s (names.count() for each name); now milliseconds.
    took = seconds_to_run(SUBMIT_JSON.replace("DIRECTORY", repr(str(tmp_path))), deadline=5.0)
    assert took is not None, "one 256 KB JSON body kept the submission path busy for over 5 s"


def test_a_name_given_twice_is_still_named(tmp_path: Path) -> None:
    db, settings = shop_database(tmp_path)
    body = b'{"data": {"amount": "1.00", "order": "x", "amount": "2.00"}}'
    with pytest.raises(Rejection) as refused:
        submit(db, settings, templated(body), ["max@example.org"])
    assert "names 'amount' twice" in refused.value.reply, refused.value.reply


def reminder_without_to() -> bytes:
    body = json.dumps({"data": sample_data("payment-reminder", "de")}).encode()
    return (
        b"From: info@shop.example.com\r\nX-Relay-Template: payment-reminder\r\n"
        b"X-Relay-Order: 3001\r\nContent-Type: application/json\r\n\r\n" + body + b"\r\n"
    )


def test_without_a_to_header_no_copy_names_another_customer(tmp_path: Path) -> None:
    """One message goes to every envelope recipient: Bob's copy once said `To: alice@...`."""
    db, settings = shop_database(tmp_path)
    prepared = submit(db, settings, reminder_without_to(), ["alice@example.org", "bob@example.net"])
    sent = email.message_from_bytes(bytes(prepared.body), policy=email.policy.default)
    assert str(sent["To"]) == "undisclosed-recipients:;", sent["To"]
    assert b"alice@" not in bytes(prepared.body) and b"bob@" not in bytes(prepared.body)


def test_without_a_to_header_one_recipient_is_the_to(tmp_path: Path) -> None:
    db, settings = shop_database(tmp_path)
    prepared = submit(db, settings, reminder_without_to(), ["alice@example.org"])
    sent = email.message_from_bytes(bytes(prepared.body), policy=email.policy.default)
    assert {a.addr_spec for a in sent["To"].addresses} == {"alice@example.org"}


def _submitter(tmp_path: Path) -> tuple[Submitter, Callable[[], None]]:
    db, settings = shop_database(tmp_path)
    writer = db.writer()
    writer.start()
    deps = SubmissionDeps(db.read, writer.run, Signer(0), settings, lambda _: None, lambda: None)
    return Submitter(deps), writer.stop


def test_rendering_runs_off_the_event_loop_and_past_its_time_is_451(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The render of X-Relay-Template / X-Relay-Layout ran inside prepare() on the worker's
    event loop, so every session of the worker waited for it."""
    submitter, stop = _submitter(tmp_path)
    threads: list[str] = []
    prepare = relay.submit.prepare_submission

    def watched(*args: object) -> object:
        threads.append(threading.current_thread().name)
        return prepare(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(relay.submit, "prepare_submission", watched)
    plain = b"From: info@shop.example.com\r\nTo: max@example.org\r\nSubject: x\r\n\r\nHallo\r\n"
    try:

        async def scenario() -> str:
            loop_thread = threading.current_thread().name
            for message in (reminder_without_to(), plain):
                await submitter.submit(SHOP, SENDER, ["max@example.org"], message, "127.0.0.1")
            monkeypatch.setattr(relay.submit, "RENDER_SECONDS", 0.0)  # no time at all
            with pytest.raises(Rejection) as refused:
                await submitter.submit(
                    SHOP, SENDER, ["max@example.org"], reminder_without_to(), "127.0.0.1"
                )
            assert threads[0].startswith("render-smtp") and threads[1] == loop_thread, threads
            return refused.value.reply

        reply = asyncio.run(scenario())
    finally:
        stop()
    assert reply.startswith("451 4.3.0 Rendering the message took over 0 s"), reply


def test_a_large_plain_message_is_prepared_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Final read: a plain message of megabytes (read back from its spool, re-encoded, looked
    up per recipient) was prepared on the worker's event loop, holding every other session."""
    submitter, stop = _submitter(tmp_path)
    threads: list[str] = []
    prepare = relay.submit.prepare_submission

    def watched(*args: object) -> object:
        threads.append(threading.current_thread().name)
        return prepare(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(relay.submit, "prepare_submission", watched)
    head = b"From: info@shop.example.com\r\nTo: max@example.org\r\nSubject: x\r\n\r\n"
    large = head + b"Hallo Welt\r\n" * (relay.submit.OFF_LOOP_ABOVE // 12 + 1)
    try:

        async def scenario() -> str:
            await submitter.submit(SHOP, SENDER, ["max@example.org"], large, "127.0.0.1")
            return threading.current_thread().name

        loop_thread = asyncio.run(scenario())
    finally:
        stop()
    assert threads and threads[0] != loop_thread, threads
