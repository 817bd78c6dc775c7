"""What anyone on the internet can make the bounce listener do: a report it cannot read in
time is kept as `unreadable` without stopping anything, a stored one does not keep the relay
from starting, one transaction names at most 100 recipients, and one sender's reports that
prove nothing are capped per day.

Real parts for the live tests: `relay serve` (one worker), reports sent by smtplib or a raw
socket to the complaint address (no token needed), the shop's port probed for its greeting.
"""

from __future__ import annotations

import asyncio
import signal
import smtplib
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from relay.inbound.parsing import ReportParser
from relay.inbound.quota import MAX_UNMATCHED_PER_DAY
from tests.live import greetings_while, one_worker_relay, send_report, stop_quickly
from tests.rig.tools import wait_until

COUNT = 5_000


def hostile_report(line_repeats: int = 250, lines: int = 3) -> bytes:
    """An "Undeliverable" notice whose recipient lines once made the exchange detector's
    pattern backtrack (about 20 s per 2.2 KB line, holding the GIL)."""
    body = "\r\n".join(["@<mailto:" * line_repeats] * lines)
    return (
        "From: postmaster@outlook.example\r\nTo: fbl@relay.example.net\r\n"
        "Subject: Undeliverable: your order\r\nX-MS-Exchange-Message-Is-Ndr: yes\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "Delivery has failed to these recipients or groups:\r\n\r\n" + body + "\r\n"
    ).encode()


def never_done(raw: bytes) -> object:
    """A parser that hangs (a pattern nobody found yet); pickled to the child by name."""
    time.sleep(3600)
    raise AssertionError("unreachable")


def test_a_report_not_read_in_time_is_unreadable_and_nothing_waits_for_it() -> None:
    async def scenario() -> tuple[object, float, int, object]:
        parser = ReportParser(deadline=2.0, read=never_done)
        ticks = 0

        async def tick() -> None:  # the event loop of the listener, meanwhile
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.05)

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        report = await parser.parse(hostile_report())
        took = time.monotonic() - started
        ticker.cancel()
        parser.read = _real_parse  # the next report gets a fresh child and is read
        after = await asyncio.wait_for(parser.parse(hostile_report(lines=1)), 60)
        parser.close()
        return report, took, ticks, after

    report, took, ticks, after = asyncio.run(scenario())
    assert report.format == "unreadable" and report.errors, report  # type: ignore[attr-defined]
    assert 2.0 <= took < 30, took  # the deadline, not the hour the parse would take
    assert ticks >= 10, ticks  # the loop kept running while the child was busy
    assert after.format != "unreadable", after  # type: ignore[attr-defined]


def _real_parse(raw: bytes) -> object:
    from bounces import parse_report

    return parse_report(raw)


def test_the_shops_port_still_answers_while_a_report_is_parsed(tmp_path: Path) -> None:
    relay = one_worker_relay(tmp_path / "relay").start()
    try:
        assert send_report(relay, hostile_report()).startswith("250 2.0.0 Ok: report stored")
        seen = greetings_while(relay.submission_port, seconds=6)
        assert all(t is not None for t in seen), f"greeting times (None: no 220 in 3 s): {seen}"
    finally:
        stop_quickly(relay)


def test_a_stored_hostile_report_does_not_keep_the_relay_from_starting(tmp_path: Path) -> None:
    relay = one_worker_relay(tmp_path / "relay").start()
    try:
        send_report(relay, hostile_report(lines=20))
        relay.stop(signal.SIGKILL)  # a crash, an OOM kill, a reboot: the report stays 'new'
        relay.start()  # recovery runs after the listeners are open, its parse in a child
    finally:
        stop_quickly(relay)


def test_a_transaction_cannot_name_thousands_of_recipients(tmp_path: Path) -> None:
    """RFC 5321 4.5.3.1.10: 452 past the server's limit. 300,000 RCPT to the public complaint
    address once grew the worker by 26 MB for good, and each report stored the whole list."""
    relay = one_worker_relay(tmp_path / "relay").start()
    try:
        with socket.create_connection(("127.0.0.1", relay.inbound_port), timeout=30) as sock:
            lines = sock.makefile("rb")
            lines.readline()
            sock.sendall(b"EHLO mx.example.org\r\n")
            while not lines.readline().startswith(b"250 "):
                pass
            sock.sendall(b"MAIL FROM:<postmaster@example.org>\r\n")
            assert lines.readline().startswith(b"250")
            sock.sendall(b"RCPT TO:<fbl@relay.example.net>\r\n" * COUNT)
            codes = [lines.readline()[:3] for _ in range(COUNT)]
    finally:
        stop_quickly(relay)
    accepted = codes.count(b"250")
    assert accepted <= 1000, f"{accepted} of {COUNT} recipients accepted in one transaction"
    assert b"452" in codes, set(codes)


def test_a_sender_of_reports_that_prove_nothing_is_refused_after_the_days_cap(
    tmp_path: Path,
) -> None:
    """The complaint address needs no token, so each stranger's report is stored: past 100 a
    day that match nothing, the same sender gets 452 at RCPT; others are still taken."""
    relay = one_worker_relay(tmp_path / "relay").start()
    junk = b"From: spam@example.org\r\nSubject: hello\r\n\r\nnothing to see\r\n"
    try:
        with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=60) as client:
            client.ehlo("mx.example.org")
            for _ in range(MAX_UNMATCHED_PER_DAY):
                client.sendmail("spam@example.org", ["fbl@relay.example.net"], junk)

            def all_read() -> bool:
                with sqlite3.connect(relay.root / "var" / "relay.db") as conn:
                    statuses = [s for (s,) in conn.execute("SELECT status FROM reports")]
                return len(statuses) == MAX_UNMATCHED_PER_DAY and "new" not in statuses

            wait_until(all_read, 60, "every report to be read")
            client.mail("spam@example.org")
            code, text = client.rcpt("fbl@relay.example.net")
            assert (code, text[:5]) == (452, b"4.7.1"), (code, text)
            client.rset()
            client.mail("postmaster@example.net")  # another sender: taken
            assert client.rcpt("fbl@relay.example.net")[0] == 250
    finally:
        stop_quickly(relay)


def test_waiting_reports_are_ids_not_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Final review: every stored report started a task that read its raw bytes (up to 10 MB)
    and then waited for the one parser; a sender faster than the parser grew the worker's
    memory without bound. Only LOADED_AT_ONCE are read at a time; past MAX_WAITING waiting,
    a report is left to the periodic sweep."""
    from relay.inbound import listener

    loaded, most = 0, 0

    def load_raw(_conn: object, report_id: int) -> tuple[bytes, list[str]]:
        nonlocal loaded, most
        loaded += 1
        most = max(most, loaded)
        return b"x" * 1000, []

    class SlowParser:
        async def parse(self, raw: bytes) -> object:
            nonlocal loaded
            await asyncio.sleep(0.01)
            loaded -= 1
            return object()

    monkeypatch.setattr(listener, "load_raw", load_raw)
    monkeypatch.setattr(listener.reports, "apply_parsed", lambda *a: None)
    monkeypatch.setattr(listener.logs, "report", lambda outcome: None)

    async def write(job):  # type: ignore[no-untyped-def]
        return job(None)

    async def main() -> int:
        deps = listener.InboundDeps(lambda: None, write, b"k", "bounces.example.net", "fbl@x")
        handler = listener.InboundHandler(deps)
        handler.parser = SlowParser()  # type: ignore[assignment]
        for report_id in range(listener.MAX_WAITING + 50):
            handler._spawn(report_id, "flood@example.org")
        spawned = len(handler._tasks)
        await asyncio.gather(*handler._tasks, return_exceptions=True)
        return spawned

    spawned = asyncio.run(main())
    assert spawned == listener.MAX_WAITING  # the rest stays stored for the sweep
    assert most <= listener.LOADED_AT_ONCE
