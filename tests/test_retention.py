"""Retention (`[store] retention`, issue 10): bodies and recipient prefixes older than the period
are dropped, the proof of sending is kept (time, MX, reply, body hash, recipient rows and
attempts), a message still waiting keeps its body, and a late bounce still finds its row. On
both store backends; once through `relay serve`, where the job runs on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bounces import parse_report
from relay.inbound.reports import apply_parsed
from relay.model import State
from relay.store.recipients import Lease, claim_due, record_attempt
from relay.store.reports import store_raw
from relay.store.retention import bodies_kept, drop_old_bodies, drop_old_reports
from relay.store.sql import execute
from tests.harness import RelayProcess, submit
from tests.held_mx import BOUNCE_DOMAIN, SECRET, dsn_for
from tests.rig import names
from tests.rig.tools import wait_until
from tests.store_fixtures import new_database, queue_message, table
from tests.test_state_machine import delivered

pytestmark = pytest.mark.backends("sqlite", "postgresql")
Fresh = Callable[[], str | None]
LEASE = Lease("node-a", "node-a/w0.1", 60.0, 60.0)
DAY = 86400.0


def deliver(db, message: str) -> None:  # type: ignore[no-untyped-def]
    """Claim the message's rows and record a 250 for each, as the scheduler would."""
    with db.transaction() as tx:
        for row in claim_due(tx, LEASE, 100):
            if row["message"] == message:
                record_attempt(tx, delivered(row), LEASE.owner)


def test_old_bodies_go_the_proof_of_sending_stays(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, url=fresh_store())
    old = time.time() - 100 * DAY
    done = queue_message(db, "done@example.org", created_at=old)
    waiting = queue_message(db, "waiting@example.org", created_at=old)
    recent = queue_message(db, "recent@example.org")
    deliver(db, done)
    deliver(db, recent)
    before = table(db, "SELECT id, body_sha256, size FROM messages ORDER BY id")

    with db.transaction() as tx:
        assert drop_old_bodies(tx, time.time() - 90 * DAY) == 1
    with db.transaction() as tx:
        assert drop_old_bodies(tx, time.time() - 90 * DAY) == 0  # nothing left to do

    kept = {m: stored_message(db, m) for m in (done, waiting, recent)}
    assert kept[done]["body"] is None and kept[done]["body_dropped_at"] is not None
    assert bytes(kept[done]["recipients"][0]["prefix"]) == b""
    assert kept[waiting]["body"] and kept[recent]["body"]  # still queued / young: kept
    assert bytes(kept[waiting]["recipients"][0]["prefix"]) == b"X-Prefix: 1\r\n"
    proof = kept[done]["recipients"][0]
    assert (proof["state"], proof["last_code"]) == ("delivered", 250)
    assert [(a["code"], a["mx_host"]) for a in proof["attempts_log"]] == [(250, "mx.example.org")]
    assert table(db, "SELECT id, body_sha256, size FROM messages ORDER BY id") == before
    assert bodies_kept(db.read(), time.time() - 90 * DAY) == 1  # the waiting one


def stored_message(db, message_id: str) -> dict:  # type: ignore[no-untyped-def]
    """A message row with its recipients, each with its attempts, as the store keeps them."""
    found = table(db, "SELECT * FROM messages WHERE id = ?", (message_id,))[0]
    found["recipients"] = table(db, "SELECT * FROM recipients WHERE message = ?", (message_id,))
    for rcpt in found["recipients"]:
        rcpt["attempts_log"] = table(
            db, "SELECT * FROM attempts WHERE recipient = ? ORDER BY id", (rcpt["id"],)
        )
    return found


def test_a_late_dsn_for_a_message_without_its_body_still_bounces_its_row(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    message = queue_message(db, "max@example.org", created_at=time.time() - 100 * DAY)
    deliver(db, message)
    with db.transaction() as tx:
        assert drop_old_bodies(tx, time.time() - 90 * DAY) == 1
    [row] = table(db, "SELECT id FROM recipients")
    raw, to = dsn_for(row["id"])  # a real Postfix DSN to the row's signed bounce address

    async def report() -> str:
        writer = db.writer()
        writer.start()
        try:
            report_id = await writer.run(lambda tx: store_raw(tx, raw, "", [to]))
            parsed = parse_report(raw)
            outcome = await writer.run(
                lambda tx: apply_parsed(tx, report_id, parsed, [to], SECRET, BOUNCE_DOMAIN)
            )
        finally:
            writer.stop()
        return outcome.effect

    assert "bounced" in asyncio.run(report())
    assert table(db, "SELECT state, reason FROM recipients") == [
        {"state": State.BOUNCED, "reason": "userunknown"}
    ]


def test_old_reports_lose_their_raw_bytes_and_keep_what_was_read(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    """Anyone may send a report: its bytes go after the period like a body, what parsing and
    matching found stays. A report not yet processed keeps its bytes whatever its age."""
    db = new_database(tmp_path, url=fresh_store())
    message = queue_message(db, "max@example.org", created_at=time.time() - 100 * DAY)
    deliver(db, message)
    [row] = table(db, "SELECT id FROM recipients")
    raw, to = dsn_for(row["id"])
    with db.transaction() as tx:
        old = store_raw(tx, raw, "", [to])
        apply_parsed(tx, old, parse_report(raw), [to], SECRET, BOUNCE_DOMAIN)
        waiting = store_raw(tx, b"Subject: never processed\r\n\r\nx\r\n", "", [to])
        recent = store_raw(tx, b"Subject: junk\r\n\r\nx\r\n", "x@example.org", [to])
        apply_parsed(tx, recent, parse_report(b"Subject: junk\r\n\r\nx\r\n"), [to],
                     SECRET, BOUNCE_DOMAIN)  # fmt: skip
        execute(tx, "UPDATE reports SET received_at = ? WHERE id IN (?, ?)",
                   (time.time() - 100 * DAY, old, waiting))  # fmt: skip
    with db.transaction() as tx:
        assert drop_old_reports(tx, time.time() - 90 * DAY) == 1
    with db.transaction() as tx:
        assert drop_old_reports(tx, time.time() - 90 * DAY) == 0
    found = {r["id"]: r for r in table(db, "SELECT id, raw, status, kind, parsed FROM reports")}
    assert bytes(found[old]["raw"]) == b"" and found[old]["status"] == "matched"
    assert found[old]["kind"] == "bounce" and "userunknown" in found[old]["parsed"]
    assert bytes(found[waiting]["raw"]).startswith(b"Subject: never processed")
    assert bytes(found[recent]["raw"]).startswith(b"Subject: junk")


def test_relay_serve_drops_bodies_after_the_retention_period(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory(
        {"relay": {"workers": 1}, "store": {"retention": "2s"}}
    ).start()
    queue_id = submit(relay, names.CUSTOMER, "X-Relay-Order: R-1")
    relay.wait_state(names.CUSTOMER, {"delivered"})

    def dropped() -> bool:
        return relay.json("message", "show", queue_id).get("body_dropped_at") is not None

    wait_until(dropped, 20, "the body to be dropped")
    shown = relay.json("message", "show", queue_id)
    assert shown["text"] == "" and len(shown["body_sha256"]) == 64 and shown["size"] > 0
    [rcpt] = shown["recipients"]
    assert rcpt["state"] == "delivered" and rcpt["attempts_log"][-1]["code"] == 250
    assert "retention: dropped the bodies of 1 messages" in relay.log_text()
