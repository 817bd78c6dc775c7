"""A bounce report whose processing failed once is processed while the relay runs.

The bounce listener stores the raw report, answers 250 (the reporting MTA forgets it) and then
processes it; when that write is refused for a moment (a full disk, a database locked longer
than the busy timeout) the report stays `new`. The periodic sweep of one node (relay serve's
"reports" job) processes reports still new after a minute, and `relay status` says how many
wait (review 2: before, only the next start processed them).

The real bounce listener handler and store; the full disk is the writer-seam fault of
tests/test_writer.py, switched on right after the 250 and off again a moment later.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope

from bounces.verp import bounce_address
from relay.inbound.listener import InboundDeps, InboundHandler
from relay.serve.periodic import recover_reports
from relay.store.reports import report_status, store_raw
from relay.store.sql import execute
from tests.harness import RelayProcess
from tests.store_fixtures import new_database, queue_message
from tests.test_writer import FullDiskWriter

SECRET = b"s" * 32
BOUNCE_DOMAIN = "bounces.relay.example.net"
CUSTOMER = "max@example.org"

DSN = (
    "From: MAILER-DAEMON@mx.example.org\r\n"
    "To: {to}\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
    "\r\n"
    "--B\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Your message could not be delivered.\r\n"
    "--B\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.example.org\r\n"
    "\r\n"
    "Final-Recipient: rfc822; {customer}\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <{customer}>: Recipient address rejected: User unknown\r\n"
    "--B--\r\n"
)


def test_a_report_whose_processing_failed_once_is_processed_when_the_store_is_back(
    tmp_path: Path,
) -> None:
    db = new_database(tmp_path)
    queue_message(db, CUSTOMER)
    [(recipient_id,)] = _rows(tmp_path, "SELECT id FROM recipients")
    to = bounce_address(SECRET, recipient_id, BOUNCE_DOMAIN)

    async def main() -> tuple[str | None, str | None]:
        writer = FullDiskWriter(db.path)  # type: ignore[attr-defined]
        writer.start()
        handler = InboundHandler(
            InboundDeps(db.read, writer.run, SECRET, BOUNCE_DOMAIN, "fbl@relay.example.net")
        )
        # The sweep as relay serve runs it, with short periods instead of 30 s and a minute.
        sweep = asyncio.create_task(recover_reports(db.read, handler.process, 0.2, 1.5))
        envelope = Envelope()
        envelope.mail_from = ""
        envelope.rcpt_tos = [to]
        envelope.content = DSN.format(to=to, customer=CUSTOMER).encode()
        reply = await handler.handle_DATA(None, None, envelope)
        assert reply.startswith("250 ")  # stored: the reporting MTA forgets it now
        writer.full = True  # the disk is full for a moment, just as processing saves
        await asyncio.sleep(1.0)
        writer.full = False  # room again; the relay keeps running
        assert writer.commits_refused > 0  # the listener's own processing did fail
        before_grace = report_status(db.read(), 1)
        for _ in range(100):
            if report_status(db.read(), 1) != "new":
                break
            await asyncio.sleep(0.1)
        status = report_status(db.read(), 1)
        sweep.cancel()
        writer.stop()
        return before_grace, status

    before_grace, status = asyncio.run(main())
    assert (before_grace, status) == ("new", "matched")
    assert _rows(tmp_path, "SELECT state FROM recipients") == [("bounced",)]


@pytest.fixture
def relay(tmp_path: Path) -> RelayProcess:
    return RelayProcess(tmp_path / "relay", "127.0.0.1", 25).init()


def test_relay_status_says_how_many_reports_wait(relay: RelayProcess) -> None:
    assert relay.json("status")["reports_waiting"]["count"] == 0
    assert "bounce reports" not in relay.run("status").stdout
    db = relay.open_db()
    with db.transaction() as tx:
        for _ in range(2):
            store_raw(tx, b"Subject: x\r\n\r\nx\r\n", "", ["b@bounces.example.net"])
        store_raw(tx, b"Subject: y\r\n\r\ny\r\n", "", ["b@bounces.example.net"])
        # Two arrived two minutes ago; the third is being processed right now.
        execute(tx, "UPDATE reports SET received_at = ? WHERE id <= 2", (time.time() - 120,))
    db.close()
    waiting = relay.json("status")["reports_waiting"]
    assert waiting["count"] == 2 and waiting["oldest_at"].endswith("+00:00")
    shown = relay.run("status").stdout
    assert "WARNING bounce reports: 2 not processed yet" in shown, shown


def _rows(directory: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(directory / "relay.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
