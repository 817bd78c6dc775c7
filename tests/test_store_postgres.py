"""The PostgreSQL backend on a real server (tests/rig/postgres.py): the same migrations, applied
once when two nodes start at the same moment; the writer's answers; claims of two nodes at
once never overlap (FOR UPDATE SKIP LOCKED); errors as the store's own (a server that went
away is StoreUnavailable, and the next read reconnects); the URL's password never shown."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import psycopg
import pytest

from relay.store.db import open_database
from relay.store.errors import StoreClosed, StoreError, StoreUnavailable
from relay.store.postgres import lock_key, pg_sql, redacted
from relay.store.recipients import Lease, claim_due
from relay.store.schema import MIGRATIONS
from relay.store.sql import changed, execute, rows, value
from tests.rig.postgres import PostgresServer
from tests.store_fixtures import new_database, queue_message, table


def test_the_migrations_build_the_schema_and_record_its_version(postgres_url: str) -> None:
    db = open_database(postgres_url, Path("."), migrate=False)
    assert db.version() == 0
    assert db.migrate() == len(MIGRATIONS) == db.version()
    assert db.migrate() == len(MIGRATIONS)  # again: nothing to do
    names = {r["tablename"] for r in table(db, "SELECT tablename FROM pg_tables"
                                               " WHERE schemaname = 'public'")}  # fmt: skip
    assert {"shops", "messages", "recipients", "attempts", "events", "nodes"} <= names
    with pytest.raises(StoreError, match="recipients_state"), db.transaction() as tx:
        execute(  # the CHECK of the states
            tx,
            "INSERT INTO recipients (message, address, domain, state, created_at,"
            " updated_at) VALUES ('M', 'a@example.org', 'example.org', 'sent', 0, 0)",
        )
    db.close()


def test_two_nodes_starting_at_once_migrate_once(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Both wait on the advisory lock; the second finds the work done (a migration applied
    twice would fail on CREATE TABLE shops)."""
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def node() -> None:
        try:
            start.wait()
            open_database(postgres_url, Path(".")).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=node) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    name = postgres_url.rsplit("/", 1)[1]
    assert postgres_server.psql(name, "SELECT version FROM schema_version").split() == [
        str(len(MIGRATIONS))
    ]


def test_a_newer_database_is_refused_with_advice(postgres_url: str) -> None:
    db = open_database(postgres_url, Path("."))
    with db.transaction() as tx:
        execute(tx, "UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    db.close()
    with pytest.raises(Exception, match="newer than this relay knows"):
        open_database(postgres_url, Path("."))


def test_claims_of_two_nodes_at_once_never_take_the_same_row(
    tmp_path: Path, postgres_url: str
) -> None:
    db = new_database(tmp_path, url=postgres_url)
    for n in range(60):
        queue_message(db, f"r{n}@example.org")
    leases = [Lease(f"node-{n}", f"node-{n}/w0.1", 60, 60) for n in range(3)]
    taken: dict[str, list[int]] = {lease.node: [] for lease in leases}
    start = threading.Barrier(len(leases))

    def claimer(lease: Lease) -> None:
        mine = open_database(postgres_url, Path("."))
        start.wait()
        for _ in range(10):
            with mine.transaction() as tx:
                taken[lease.node] += [r["id"] for r in claim_due(tx, lease, 3)]
        mine.close()

    threads = [threading.Thread(target=claimer, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [rid for ids in taken.values() for rid in ids]
    assert len(claimed) == len(set(claimed)) == 60  # each row once, every row claimed
    owners = table(db, "SELECT lease_node, count(*) AS n FROM recipients GROUP BY lease_node")
    assert sum(r["n"] for r in owners) == 60


def test_the_pool_writer_answers_each_job_and_refuses_once_stopped(postgres_url: str) -> None:
    db = open_database(postgres_url, Path("."))
    with db.transaction() as tx:
        execute(tx, "CREATE TABLE t (x INTEGER NOT NULL)")

    async def main() -> None:
        writer = db.writer()
        writer.start()
        insert = lambda v: lambda tx: changed(tx, "INSERT INTO t VALUES (?)", (v,))  # noqa: E731
        results = await asyncio.gather(
            writer.run(insert(1)), writer.run(insert(None)), return_exceptions=True
        )
        assert results[0] == 1
        assert isinstance(results[1], StoreError) and "not-null" in str(results[1])
        assert not isinstance(results[1], StoreUnavailable)  # a bug: retrying cannot help
        writer.stop()
        with pytest.raises(StoreClosed):
            await writer.run(insert(2))

    asyncio.run(main())
    assert [r["x"] for r in table(db, "SELECT x FROM t")] == [1]


def test_a_server_that_goes_away_is_unavailable_and_reads_reconnect(postgres_url: str) -> None:
    db = open_database(postgres_url, Path("."))
    conn = db.read()
    assert value(conn, "SELECT 1") == 1
    pid = value(conn, "SELECT pg_backend_pid()")
    other = open_database(postgres_url, Path("."))
    value(other.read(), "SELECT pg_terminate_backend(?)", (pid,))  # the server drops us
    with pytest.raises(StoreUnavailable):
        value(db.read(), "SELECT 1")
    assert value(db.read(), "SELECT 1") == 1  # the next read has a new connection
    assert value(db.read(), "SELECT pg_backend_pid()") != pid
    other.close()
    db.close()


def test_a_wrong_database_url_is_a_setup_error_naming_it_without_the_password(
    postgres_server: PostgresServer,
) -> None:
    url = f"postgresql://relay:hunter2@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(Exception, match="no_such_database") as caught:
        open_database(url, Path("."))
    assert "hunter2" not in str(caught.value)
    assert "postgresql://relay:***@127.0.0.1" in str(caught.value)


def test_placeholders_are_translated_outside_string_literals() -> None:
    assert pg_sql("SELECT ? WHERE a = '?' AND b LIKE '50%'") == (
        "SELECT %s WHERE a = '?' AND b LIKE '50%%'"
    )
    assert redacted("postgresql://u:p@h:5/d") == "postgresql://u:***@h:5/d"
    assert lock_key("periodic:webhooks") != lock_key("periodic:retention")


def test_rows_read_by_position_by_name_and_as_dicts(postgres_url: str) -> None:
    db = open_database(postgres_url, Path("."))
    [found] = rows(db.read(), "SELECT 1 AS a, 'x' AS b, ?::bytea AS c", (b"\x00\xff",))
    assert (found[0], found["b"], dict(found)) == (1, "x", {"a": 1, "b": "x", "c": b"\x00\xff"})
    db.close()


def test_a_nul_in_text_is_stored_as_a_replacement_character(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL's text cannot hold NUL (SQLite's can; the driver refuses it): a header or a
    remote reply carrying one is stored with U+FFFD instead of failing the write."""
    with pytest.raises(psycopg.DataError):  # what would happen without the store's care
        psycopg.connect(postgres_url).execute("SELECT %s::text", ("a\x00b",))
    db = new_database(tmp_path, url=postgres_url)
    queue_message(db, "a@example.org", subject="bad\x00subject")
    assert table(db, "SELECT subject FROM messages") == [{"subject": "bad\ufffdsubject"}]


def test_the_pool_writer_recovers_when_the_server_dropped_its_connections(
    postgres_url: str,
) -> None:
    """A server restart drops every pooled connection: the jobs that meet a dead one fail
    as StoreUnavailable (callers retry those), and the writer goes on with new connections."""
    db = open_database(postgres_url, Path("."), name="relay/pool-test")
    with db.transaction() as tx:
        execute(tx, "CREATE TABLE t (x INTEGER NOT NULL)")
    insert = lambda v: lambda tx: changed(tx, "INSERT INTO t VALUES (?)", (v,))  # noqa: E731

    async def main() -> list[object]:
        writer = db.writer()
        writer.start()
        await asyncio.gather(*(writer.run(insert(n)) for n in range(8)))  # every connection used
        killed = value(
            db.read(),
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'relay/pool-test' AND pid <> pg_backend_pid()",
        )
        assert killed >= 2
        outcomes: list[object] = []
        for n in range(100, 130):
            try:
                outcomes.append(await writer.run(insert(n)))
            except StoreUnavailable as exc:
                outcomes.append(exc)
        writer.stop()
        return outcomes

    outcomes = asyncio.run(main())
    assert all(o == 1 or isinstance(o, StoreUnavailable) for o in outcomes)
    assert outcomes[-10:] == [1] * 10  # new connections: every job goes through again
    assert len(table(db, "SELECT x FROM t WHERE x >= 100")) == outcomes.count(1)


def test_two_nodes_cannot_both_apply_one_report(tmp_path: Path, postgres_url: str) -> None:
    """A report's status is read with its row locked inside the write that applies it: a
    second node recovering the same report waits for the first to commit, then finds it
    done (without the lock both would read 'new' and apply it twice)."""
    from relay.store.reports import finish_report, report_status, store_raw

    first = new_database(tmp_path, url=postgres_url)
    with first.transaction() as tx:
        report = store_raw(tx, b"Subject: report\r\n\r\n", "", ["b-x@bounces.example.net"])
    second = open_database(postgres_url, Path("."))
    seen: list[str | None] = []
    with first.transaction() as tx:
        assert report_status(tx, report) == "new"  # node 1 is applying it now

        def other_node() -> None:
            with second.transaction() as tx2:
                seen.append(report_status(tx2, report))

        thread = threading.Thread(target=other_node)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive() and seen == []  # node 2 waits for node 1's commit
        finish_report(tx, report, "bounce", "matched", None, {})
    thread.join(10)
    assert seen == ["matched"]  # ... then sees it applied, and leaves it
    second.close()
