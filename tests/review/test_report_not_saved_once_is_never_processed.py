"""A bounce report whose processing could not be saved once stays unprocessed until restart.

The bounce listener stores the raw report, answers 250 (the reporting MTA forgets it) and then
processes it in a task. When that task's write fails (the disk full for a moment, the database
locked longer than the busy timeout: StoreUnavailable), `_process_logged` logs "kept
unprocessed for the next start" and gives up. Nothing tries again while the relay runs
(`recover()` runs once, at the start of worker 0), `relay status` shows nothing, and relays
are restarted rarely: the customer's bounce is not recorded, the dead address is not blocked,
the shop's mandatory mail is not escalated, for weeks. Issue 9 item 9 made delivery results
survive a full disk (kept and saved with backoff); reports need the same (retry with backoff,
or a periodic sweep of reports still `new`).

The real bounce listener handler and store; the full disk is the writer-seam fault of
tests/test_writer.py, switched on right after the 250 and off again a moment later.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from aiosmtpd.smtp import Envelope

from bounces.verp import bounce_address
from relay.inbound.listener import InboundDeps, InboundHandler
from relay.store.reports import report_status
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

    async def main() -> str | None:
        writer = FullDiskWriter(db.path)  # type: ignore[attr-defined]
        writer.start()
        handler = InboundHandler(
            InboundDeps(db.read, writer.run, SECRET, BOUNCE_DOMAIN, "fbl@relay.example.net")
        )
        envelope = Envelope()
        envelope.mail_from = ""
        envelope.rcpt_tos = [to]
        envelope.content = DSN.format(to=to, customer=CUSTOMER).encode()
        reply = await handler.handle_DATA(None, None, envelope)
        assert reply.startswith("250 ")  # stored: the reporting MTA forgets it now
        writer.full = True  # the disk is full for a moment, just as processing saves
        await asyncio.sleep(1.0)
        writer.full = False  # room again; the relay keeps running
        await asyncio.sleep(10.0)
        status = report_status(db.read(), 1)
        writer.stop()
        return status

    assert asyncio.run(main()) == "matched"
    assert _rows(tmp_path, "SELECT state FROM recipients") == [("bounced",)]


def _rows(directory: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(directory / "relay.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
