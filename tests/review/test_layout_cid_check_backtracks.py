"""Review finding: a shop freezes a worker with one `X-Relay-Layout: shop` message.

`relay/prepare/templated.py` refuses inline images with
`(?:src|href|background)\\s*=\\s*["']?\\s*cid:` searched over the shop's whole HTML. Two `\\s*`
around an optional quote backtrack quadratically over a run of white space after `src=`
(16 K spaces: 1 s; 120 K: over 2 minutes measured on a live relay; a 25 MB message: weeks). The
search runs inside `prepare()`, on the worker's event loop, so every session of that worker
(other shops' submissions, bounces, HTTP, delivery) waits; a shop's software that retries
after its timeout freezes the next worker.

Unit: the submission path (`submit_now`: parse, render, sign, store) on a real SQLite store, in a
child process with a deadline. Live: `relay serve`, the shop over STARTTLS + AUTH, a probe for
the 220 greeting of new sessions meanwhile.
"""

from __future__ import annotations

import base64
import contextlib
import smtplib
import threading
from pathlib import Path

from tests.live import greetings_while, one_worker_relay, shop_sends, stop_quickly
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


SUBMIT = """
import sys
from pathlib import Path
from relay.prepare.pipeline import Rejection
from tests.shop_submit import shop_database, submit
from tests.review.test_layout_cid_check_backtracks import layout_message

db, settings = shop_database(Path(sys.argv[1]))
try:
    submit(db, settings, layout_message(60_000), ["max@example.org"])
except Rejection:
    pass  # refusing it is as good: what matters is that the answer comes at once
"""


def test_a_layout_message_with_a_long_run_of_white_space_is_answered_at_once(
    tmp_path: Path,
) -> None:
    # 60 K spaces: ~14 s today; a linear check (or an HTML parser) takes milliseconds.
    code = SUBMIT.replace("sys.argv[1]", repr(str(tmp_path)))
    took = seconds_to_run(code, deadline=8.0)
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
