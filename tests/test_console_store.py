"""The console's store: the order list (newest first, each order once, keyset pages, searches
scoped by shop), sessions that end with their shop, user or password; on SQLite and on a real
PostgreSQL server (migration 10 and the same statements on both)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.model import RecipientPlan, State
from relay.store import console_sessions as sessions
from relay.store import console_users as users
from relay.store import orders
from relay.store.db import Database
from relay.store.errors import StoreError
from relay.store.history import order_messages
from relay.store.messages import history, insert_message
from relay.store.shops import remove_shop
from relay.store.sql import Conn, rows
from relay.store.suppression import blocks_seen_by
from tests.store_fixtures import Message, new_database

_ids = itertools.count(1)


def _message(
    db: Database, shop: str, order: str | None, to: str, at: float, test: bool = False
) -> str:
    message_id = f"T{next(_ids):08d}"
    plan = RecipientPlan(to, to.rpartition("@")[2], State.QUEUED)
    stored = Message(message_id, shop, [plan], order_ref=order, created_at=at, test=test)
    with db.transaction() as tx:
        insert_message(tx, stored, "info@x.example", "test")
    return message_id


pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def db(tmp_path: Path, fresh_store: Callable[[], str | None]) -> Iterator[Database]:
    database = new_database(tmp_path, "a", "b", url=fresh_store())
    yield database
    database.close()


def _walk(conn: Conn, shop: str, size: int, **search: str) -> list[list[orders.OrderRow]]:
    pages, after = [], None
    while True:
        if "address" in search:
            found = orders.orders_to(conn, shop, search["address"], after, size + 1)
        elif "prefix" in search:
            found = orders.orders_like(conn, shop, search["prefix"], after, size + 1)
        else:
            found = orders.recent_orders(conn, shop, after, size + 1)
        pages.append(found[:size])
        if len(found) <= size:
            return pages
        after = found[size - 1].cursor


def test_orders_newest_first_each_once_over_keyset_pages(db: Database) -> None:
    start = 1_700_000_000.0
    newest: dict[str | None, float] = {}
    for step in range(60):  # 20 orders of shop a, three messages each, interleaved
        order = f"A-{step % 20:03d}"
        at = start + step * 10
        _message(db, "a", order, f"c{step % 20}@example.org", at)
        newest[order] = at
        _message(db, "b", f"A-{step % 20:03d}", "other@example.org", at + 1)  # same numbers
    lone = [_message(db, "a", None, "x@example.org", start + 1000 + i) for i in range(2)]
    pages = _walk(db.read(), "a", 7)
    listed = [row for page in pages for row in page]
    assert [len(p) for p in pages] == [7, 7, 7, 1]
    assert [r.message for r in listed[:2]] == lone[::-1]  # no order number: a row each
    by_order = [r.order for r in listed[2:]]
    assert by_order == sorted(newest, key=lambda o: -newest[o])  # each once, newest first
    assert all(r.created_at == newest[r.order] for r in listed[2:])  # at its newest mail


def test_searches_are_exact_prefix_and_scoped_by_shop(db: Database) -> None:
    now = time.time()
    _message(db, "a", "1001", "Max@Example.org", now - 30)
    _message(db, "a", "1001", "max@example.org", now - 20)
    _message(db, "a", "1200", "max@example.org", now - 10)
    _message(db, "a", "12", "eva@example.org", now - 5)
    _message(db, "b", "1002", "max@example.org", now)
    conn = db.read()
    found = [r.order for p in _walk(conn, "a", 10, address="MAX@example.org") for r in p]
    assert found == ["1200", "1001"]  # shop b's 1002 to the same address is not there
    _message(db, "a", "1300", "Eva.Schmidt@Example.org", now + 1)  # stored as written
    for typed in ("Eva.Schmidt@Example.org", "eva.schmidt@example.org", " EVA.SCHMIDT@example.ORG"):
        assert [r.order for p in _walk(conn, "a", 10, address=typed) for r in p] == ["1300"]
    by_cli = history(conn, to="eva.schmidt@EXAMPLE.org")  # `relay messages --to`
    assert [r["order_ref"] for r in by_cli] == ["1300"]
    assert [r.order for p in _walk(conn, "a", 10, prefix="100") for r in p] == ["1001"]
    assert [r.order for p in _walk(conn, "a", 10, prefix="1_") for r in p] == []  # literal _
    assert [r.order for p in _walk(conn, "b", 10, prefix="1001") for r in p] == []
    summaries = orders.order_summaries(conn, "a", ["1001", "1200", "1002"])
    assert summaries["1001"].messages == 2 and summaries["1001"].states == {"queued": 2}
    assert "1002" not in summaries  # shop b's order


def test_a_test_message_is_a_row_of_its_own_and_in_no_order(db: Database) -> None:
    """Review 3: a test that carried a real order number (the sample's 10023, or the API's
    "test" with an order) was listed, counted and found as part of that order."""
    now = time.time()
    real = _message(db, "a", "10023", "kunde@example.org", now - 20)
    test = _message(db, "a", "10023", "staff@example.org", now - 10, test=True)
    conn = db.read()
    listed = [(r.order, r.message, r.test) for p in _walk(conn, "a", 10) for r in p]
    assert listed == [(None, test, True), ("10023", real, False)]
    assert [r.message for p in _walk(conn, "a", 10, prefix="1002") for r in p] == [real]
    assert orders.order_summaries(conn, "a", ["10023"])["10023"].messages == 1
    assert [m["id"] for m in order_messages(conn, "a", "10023")] == [real]
    found = _walk(conn, "a", 10, address="staff@example.org")
    assert [(r.order, r.message) for p in found for r in p] == [(None, test)]


@pytest.mark.backends("sqlite")
def test_the_order_list_walks_an_index_without_sorting(db: Database) -> None:
    """Keyset paging stays fast at any depth only while SQLite reads the rows in index order
    (no temporary B-tree to sort all of the shop's messages for every page)."""
    captured: list[tuple[str, Any]] = []

    class Capture:
        def execute(self, sql: str, args: Any) -> Any:
            captured.append((sql, args))
            return self

        def fetchall(self) -> list[Any]:
            return []

    orders.recent_orders(Conn(Capture(), db.read().dialect), "a", orders.Cursor(1.0, "X"), 26)
    sql, args = captured[0]
    plan = " ".join(r[3] for r in rows(db.read(), "EXPLAIN QUERY PLAN " + sql, args))
    assert "messages_shop_created" in plan and "messages_shop_order_created" in plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.backends("sqlite")
def test_searches_by_address_use_the_lower_case_index(db: Database) -> None:
    """Migration 11: the address is compared lower-cased (stored as written), through an
    index on that expression, not by reading every recipient of the relay."""
    captured: list[tuple[str, Any]] = []

    class Capture:
        def execute(self, sql: str, args: Any) -> Any:
            captured.append((sql, args))
            return self

        def fetchall(self) -> list[Any]:
            return []

    capture = Conn(Capture(), db.read().dialect)
    orders.orders_to(capture, "a", "Max@Example.org", None, 26)
    blocks_seen_by(capture, "a")
    for sql, args in captured:
        plan = " ".join(r[3] for r in rows(db.read(), "EXPLAIN QUERY PLAN " + sql, args))
        assert "recipients_address_lower" in plan, plan
        assert "SCAN r" not in plan, plan


def _session(shop: str, user: int | None, password_hash: str) -> sessions.StoredSession:
    now = time.time()
    return sessions.StoredSession(
        f"id-{next(_ids)}", shop, user, None, sessions_credential(password_hash), "csrf",
        now, now, password_hash,
    )  # fmt: skip


def sessions_credential(password_hash: str) -> str:
    from relay.http.console.sessions import credential

    return credential(password_hash)


def test_sessions_end_with_their_user_and_their_shop(db: Database) -> None:
    with db.transaction() as tx:
        user = users.insert_user(tx, "a", "anna@example.org", "hash-1", time.time())
        own = _session("a", None, "not-a-hash")
        staff = _session("a", user, "hash-1")
        sessions.insert_session(tx, own)
        sessions.insert_session(tx, staff)
    conn = db.read()
    assert sessions.find_session(conn, staff.id).user_email == "anna@example.org"
    with db.transaction() as tx:
        users.set_password(tx, user, "hash-2")
    assert sessions.find_session(conn, staff.id) is None  # a new password ends it
    assert sessions.find_session(conn, own.id) is not None
    with db.transaction() as tx:
        remove_shop(tx, "a", time.time())
    assert sessions.find_session(conn, own.id) is None  # the shop is gone


def test_another_shops_user_id_opens_no_session(db: Database) -> None:
    with db.transaction() as tx:
        foreign = users.insert_user(tx, "b", "bob@example.org", "hash-b", time.time())
        forged = _session("a", foreign, "hash-b")  # shop a, but shop b's user
        sessions.insert_session(tx, forged)
    assert sessions.find_session(db.read(), forged.id) is None


def test_a_user_is_unique_per_shop(db: Database) -> None:
    with db.transaction() as tx:
        users.insert_user(tx, "a", "anna@example.org", "h", time.time())
        users.insert_user(tx, "b", "anna@example.org", "h", time.time())  # another shop: fine
    with pytest.raises(StoreError), db.transaction() as tx:
        users.insert_user(tx, "a", "anna@example.org", "h", time.time())
