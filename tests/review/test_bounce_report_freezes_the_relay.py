"""Review finding, on a running relay: one small report from anyone stops every listener of a
worker, and a restart does not end it (see test_bounce_parser_backtracking.py for the cause).

Real parts: `relay serve` (one worker), the report sent by smtplib to the bounce listener's
complaint address as any mail server on the internet may, the shop's port probed with plain
TCP connects for its 220 greeting.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.review._live import greetings_while, one_worker_relay, send_report, stop_quickly


def hostile_report(line_repeats: int = 250, lines: int = 3) -> bytes:
    """An "Undeliverable" notice in Exchange's words whose recipient lines make the exchange
    detector's `_MAILTO` pattern backtrack (about 20 s per 2.2 KB line here)."""
    body = "\r\n".join(["@<mailto:" * line_repeats] * lines)
    return (
        "From: postmaster@outlook.example\r\nTo: fbl@relay.example.net\r\n"
        "Subject: Undeliverable: your order\r\nX-MS-Exchange-Message-Is-Ndr: yes\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "Delivery has failed to these recipients or groups:\r\n\r\n" + body + "\r\n"
    ).encode()


def test_the_shops_port_still_answers_while_a_report_is_parsed(tmp_path: Path) -> None:
    relay = one_worker_relay(tmp_path / "relay").start()
    try:
        assert send_report(relay, hostile_report()).startswith("250 2.0.0 Ok: report stored")
        # Today: no greeting at all for about a minute (3 lines x ~20 s of held GIL).
        seen = greetings_while(relay.submission_port, seconds=6)
        assert all(t is not None for t in seen), f"greeting times (None: no 220 in 3 s): {seen}"
    finally:
        stop_quickly(relay)


def test_a_stored_hostile_report_does_not_keep_the_relay_from_starting(tmp_path: Path) -> None:
    relay = one_worker_relay(tmp_path / "relay").start()
    try:
        send_report(relay, hostile_report(lines=20))  # ~7 minutes of parsing today
        relay.stop(signal.SIGKILL)  # a crash, an OOM kill, a reboot: the report stays 'new'
        # Today: start() gives up after 30 s. recover() re-parses the stored report inside
        # Service.start(), before the submission listeners open, so `relay ready` never comes
        # (and the ports refuse connections) until the parse ends.
        relay.start()
    finally:
        stop_quickly(relay)
