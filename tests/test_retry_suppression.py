"""Mail to an address blocked, or opted out of, while its message waited for a retry is not
sent on the retry: the row becomes `suppressed` with the reason (SPEC "Suppression": later
mail to a complained address is suppressed). An opt-out counts for optional kinds only.

The real scheduler and store, with an aiosmtpd MX on loopback that replies at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.store.db import Database
from relay.store.recipients import Lease
from relay.store.sql import execute
from relay.store.suppression import add_block, add_optout
from tests.held_mx import HeldMx, scheduler_for, until
from tests.store_fixtures import Kind, new_database, queue_message, table

pytestmark = pytest.mark.backends("sqlite", "postgresql")
Fresh = Callable[[], str | None]
LEASE = Lease(node="n1", owner="n1/w0.100", duration=60.0, retry=60.0)
CUSTOMER = "Max@Example.org"
FINAL = "SELECT state, reason, detail, attempts FROM recipients"


def _queued_retry(db: Database, kind: str) -> None:
    """A message that was tried once and is due for its retry now."""
    queue_message(db, CUSTOMER, kind=Kind(kind))
    with db.transaction() as tx:
        execute(tx, "UPDATE recipients SET state = 'deferred', attempts = 1")


def _run_until_final(db: Database) -> tuple[dict, int]:
    async def main() -> int:
        writer = db.writer()
        writer.start()
        with HeldMx(hold=False) as mx:
            scheduler = scheduler_for(db, writer.run, mx, LEASE)
            await scheduler.start(release_node=False)

            def tried() -> bool:  # the retry ran: suppressed, or an attempt more
                row = table(db, FINAL)[0]
                return row["state"] == "suppressed" or row["attempts"] > 1

            await until(tried, "the retry")
            await scheduler.stop()
            sent = len(mx.messages)
        writer.stop()
        return sent

    sent = asyncio.run(main())
    return table(db, FINAL)[0], sent


def test_an_address_blocked_meanwhile_is_suppressed_not_sent(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    _queued_retry(db, "dunning")
    with db.transaction() as tx:
        add_block(tx, "max@example.org", "complaint", "report:1")
    row, sent = _run_until_final(db)
    assert (row["state"], row["reason"], sent) == ("suppressed", "blocked", 0)
    assert "complaint" in row["detail"] and "waited for a retry" in row["detail"]
    events = table(db, "SELECT kind FROM events WHERE recipient IS NOT NULL ORDER BY id")
    assert events[-1]["kind"] == "suppressed"


def test_an_opt_out_meanwhile_suppresses_an_optional_kind(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    _queued_retry(db, "payment-received")
    with db.transaction() as tx:
        add_optout(tx, "shop", CUSTOMER, "payment-received", "one-click")
    row, sent = _run_until_final(db)
    assert (row["state"], row["reason"], sent) == ("suppressed", "opted-out", 0)


def test_an_opt_out_does_not_stop_a_mandatory_kind(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, url=fresh_store())
    _queued_retry(db, "dunning")
    with db.transaction() as tx:
        add_optout(tx, "shop", CUSTOMER, "dunning", "one-click")
    row, sent = _run_until_final(db)
    assert (row["state"], sent) == ("delivered", 1)
