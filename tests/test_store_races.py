"""Check-then-write in the store with two PostgreSQL connections racing (two nodes, or two
connections of one node's writer pool): the second transaction waits for the first's commit
and decides on what it wrote.

SQLite never runs two write transactions at once (one writer), so these races exist on
PostgreSQL only; the store takes a lock per name there (relay.store.sql.serialize). Each test
holds the first transaction open, checks that the second waits, then lets the first commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from relay.store.auth import Throttle, queue_attempt
from relay.store.db import Database
from relay.store.problems import open_problem
from relay.store.reports import finish_report, same_report, store_raw
from relay.store.sql import Tx
from tests.store_fixtures import new_database, queue_message, table

pytestmark = pytest.mark.backends("postgresql")
Fresh = Callable[[], str | None]
T = TypeVar("T")
CLIENT = "127.0.0.9"  # the client address the throttle keys its line by


def race(db: Database, first: Callable[[Tx], T], second: Callable[[Tx], T]) -> tuple[T, T]:
    """Run `first` in a transaction left open, then `second` in another (its own connection:
    another thread); assert that `second` waits until `first` commits. Both results."""
    held, release = threading.Event(), threading.Event()

    def holding() -> T:
        with db.transaction() as tx:
            result = first(tx)
            held.set()
            assert release.wait(20)
        return result

    def running() -> T:
        with db.transaction() as tx:
            return second(tx)

    with ThreadPoolExecutor(2) as pool:
        a: Future[T] = pool.submit(holding)
        assert held.wait(20)
        b: Future[T] = pool.submit(running)
        time.sleep(0.5)
        waited = not b.done()
        release.set()
        results = a.result(20), b.result(20)
    assert waited, "the second transaction decided before the first one committed"
    return results


def test_two_logins_from_one_address_at_once_start_one_check(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    """The line of SMTP AUTH attempts per client address (relay.store.auth): two workers on
    two nodes taking a place at once must not both find the line empty and both check a
    password: the second waits its turn behind the first."""
    db = new_database(tmp_path, url=fresh_store())
    throttle = Throttle(base=1.0)

    def take(tx: Tx) -> object:
        return queue_attempt(tx, CLIENT, throttle)

    first, second = race(db, take, take)
    assert first.started and not second.started  # type: ignore[attr-defined]
    rows = table(db, "SELECT started_at FROM auth_attempts WHERE ip = ? ORDER BY id", (CLIENT,))
    assert [r["started_at"] is not None for r in rows] == [True, False]


def test_two_copies_of_one_report_processed_at_once_count_once(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    """A reporting MTA that sends one report twice, to two nodes at once: the copy processed
    second finds the first (relay.store.reports.same_report) and is kept as its duplicate,
    instead of both bouncing the recipient and counting twice."""
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")
    recipient = table(db, "SELECT id FROM recipients")[0]["id"]
    with db.transaction() as tx:
        reports = [store_raw(tx, b"Subject: bounce\r\n\r\n5.1.1\r\n", "", []) for _ in "ab"]
    fingerprint = "5.1.1 userunknown"

    def process(report_id: int) -> Callable[[Tx], int | None]:
        def job(tx: Tx) -> int | None:
            earlier = same_report(tx, recipient, fingerprint, "matched")
            status = "duplicate" if earlier is not None else "matched"
            finish_report(tx, report_id, "bounce", status, recipient, {}, fingerprint)
            return earlier

        return job

    first, second = race(db, process(reports[0]), process(reports[1]))
    assert (first, second) == (None, reports[0])
    found = table(db, "SELECT id, status FROM reports ORDER BY id")
    assert [r["status"] for r in found] == ["matched", "duplicate"]


def test_one_recipient_ended_twice_at_once_opens_one_problem(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    """Two reports that each end one dunning letter's recipient, applied at once on two nodes:
    one problem (the recipient's), and the second transaction commits instead of failing on
    the unique recipient (its report would be retried until then)."""
    db = new_database(tmp_path, url=fresh_store())
    message = queue_message(db, "max@example.org")
    recipient = table(db, "SELECT id FROM recipients")[0]["id"]

    def escalate(tx: Tx) -> int | None:
        return open_problem(
            tx, shop="shop", message=message, recipient=recipient, address="max@example.org",
            kind="dunning", order_ref="1001", cause="bounced", reason="userunknown",
            at=time.time(),
        )  # fmt: skip

    first, second = race(db, escalate, escalate)
    assert first is not None and second is None
    assert [r["id"] for r in table(db, "SELECT id FROM problems")] == [first]
