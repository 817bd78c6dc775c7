"""The recipient state machine: a DSN and the delivery result race for the same row, and the
final state is what SPEC "Delivery" says whichever lands first: `bounced`, with the delivery
kept as an attempt. Both orders, deterministically: first by calling the store functions in
a chosen order, then through the real scheduler (its report path, a real SMTP exchange with
an MX that holds its 250) and the real bounce-processing path (a real DSN, matched by its
signed token). On both store backends (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bounces import parse_report
from relay.inbound.reports import apply_parsed
from relay.model import TRANSITIONS, DeliveryResult, State
from relay.store.db import Database
from relay.store.recipients import Bounce, Lease, claim_due, mark_bounced, record_attempt
from relay.store.reports import store_raw
from tests.held_mx import BOUNCE_DOMAIN, SECRET, HeldMx, dsn_for, scheduler_for, until
from tests.store_fixtures import new_database, queue_message, table

pytestmark = pytest.mark.backends("sqlite", "postgresql")
Fresh = Callable[[], str | None]

LEASE = Lease(node="n1", owner="n1/w0.100", duration=60.0, retry=60.0)
USER_UNKNOWN = Bounce("userunknown", "5.1.1", 550, "550 5.1.1 <max@example.org>: no such user")


def delivered(row: dict) -> DeliveryResult:
    return DeliveryResult(
        recipient=row["id"], message=row["message"], shop=row["shop"], address=row["address"],
        state=State.DELIVERED, reason=None, detail="250 2.0.0 Ok", next_attempt_at=None,
        block_address=False, reply="250 2.0.0 Ok", code=250, status="2.0.0", text="Ok",
        mx_host="mx.example.org", tls=True, duration_ms=12,
    )  # fmt: skip


def facts(db: Database) -> dict:
    [row] = table(db, "SELECT * FROM recipients")
    attempts = [a["code"] for a in table(db, "SELECT code FROM attempts ORDER BY id")]
    events = [
        (e["kind"], json.loads(e["detail"]))
        for e in table(
            db, "SELECT kind, detail FROM events WHERE recipient IS NOT NULL ORDER BY id"
        )
    ]
    return {"state": row["state"], "reason": row["reason"], "owner": row["lease_owner"],
            "attempts": attempts, "events": events}  # fmt: skip


def claim_one(db: Database) -> dict:
    with db.transaction() as tx:
        [row] = claim_due(tx, LEASE, 10)
    return row


def test_a_dsn_in_flight_wins_over_the_delivery_result_that_lands_after_it(
    tmp_path: Path, fresh_store: Fresh
):  # type: ignore[no-untyped-def]
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")
    row = claim_one(db)
    with db.transaction() as tx:
        assert mark_bounced(tx, row, USER_UNKNOWN, report=1, late=False)
    with db.transaction() as tx:
        assert not record_attempt(tx, delivered(row), LEASE.owner)
    got = facts(db)
    assert (got["state"], got["reason"], got["owner"]) == ("bounced", "userunknown", None)
    assert got["attempts"] == [250]  # the delivery is on record, as an attempt
    assert [kind for kind, _ in got["events"]] == ["bounced"]  # never "delivered"


def test_a_dsn_after_delivery_moves_delivered_to_bounced(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")
    row = claim_one(db)
    with db.transaction() as tx:
        assert record_attempt(tx, delivered(row), LEASE.owner)
    with db.transaction() as tx:
        assert mark_bounced(tx, row, USER_UNKNOWN, report=1, late=True)
    got = facts(db)
    assert (got["state"], got["reason"]) == ("bounced", "userunknown")
    assert [kind for kind, _ in got["events"]] == ["delivered", "bounced"]
    assert got["events"][1][1]["late"] is True


def test_a_repeated_dsn_counts_once(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")
    row = claim_one(db)
    with db.transaction() as tx:
        assert mark_bounced(tx, row, USER_UNKNOWN, report=1, late=False)
    with db.transaction() as tx:
        assert not mark_bounced(tx, row, USER_UNKNOWN, report=2, late=False)
    assert [kind for kind, _ in facts(db)["events"]] == ["bounced"]


def test_a_result_from_a_worker_that_lost_its_lease_changes_nothing(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")
    row = claim_one(db)
    with db.transaction() as tx:
        assert not record_attempt(tx, delivered(row), "n2/w0.7")  # not the lease holder
    got = facts(db)
    assert (got["state"], got["owner"], got["attempts"]) == ("inflight", LEASE.owner, [250])


def test_final_states_stay_final() -> None:
    assert TRANSITIONS[State.DELIVERED] == {State.BOUNCED}  # a late DSN (SPEC "Delivery")
    for final in (State.BOUNCED, State.FAILED, State.SUPPRESSED):
        assert TRANSITIONS[final] == frozenset()
    assert set(TRANSITIONS) == set(State)


# -- through the scheduler's report path and the bounce-processing path ---------------------


async def apply_dsn(write, recipient_id: int) -> str:  # type: ignore[no-untyped-def]
    """What the bounce listener does with a DSN: store it raw, then parse, match, apply."""
    raw, to = dsn_for(recipient_id)
    report_id = await write(lambda tx: store_raw(tx, raw, "", [to]))
    parsed = parse_report(raw)
    outcome = await write(
        lambda tx: apply_parsed(tx, report_id, parsed, [to], SECRET, BOUNCE_DOMAIN)
    )
    return outcome.effect


@pytest.mark.parametrize("dsn_first", [True, False], ids=["dsn-in-flight", "dsn-after-250"])
def test_the_race_through_the_scheduler_and_the_bounce_path(
    tmp_path: Path, fresh_store: Fresh, dsn_first: bool
):  # type: ignore[no-untyped-def]
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")

    async def main() -> None:
        writer = db.writer()
        writer.start()
        with HeldMx() as mx:
            scheduler = scheduler_for(db, writer.run, mx, LEASE)
            await scheduler.start(release_node=False)
            await asyncio.get_running_loop().run_in_executor(None, mx.received.wait, 30)
            if dsn_first:  # the MX has the message, the relay has no 250 yet
                assert facts(db)["state"] == "inflight"
                assert "bounced" in await apply_dsn(writer.run, 1)
                mx.release.set()
                await until(lambda: facts(db)["attempts"] == [250], "the 250 recorded")
            else:
                mx.release.set()
                await until(lambda: facts(db)["state"] == "delivered", "the 250 recorded")
                assert "bounced" in await apply_dsn(writer.run, 1)
            await scheduler.stop()
        writer.stop()
        assert len(mx.messages) == 1

    asyncio.run(main())
    got = facts(db)
    assert (got["state"], got["reason"], got["attempts"]) == ("bounced", "userunknown", [250])
    kinds = [kind for kind, _ in got["events"]]
    assert kinds == (["bounced"] if dsn_first else ["delivered", "bounced"])
    blocked = table(db, "SELECT address FROM blocks")
    assert blocked == [{"address": "max@example.org"}]  # user unknown proves the address dead
