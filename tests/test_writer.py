"""The group-commit writer answers every caller: a job that fails gets its own error, the
others in the same batch still commit, a commit that fails (a full disk) fails every job of
the batch with StoreUnavailable and writes nothing, and a writer that has stopped refuses at
once instead of leaving a submission waiting for a reply that never comes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from relay.store.db import Database
from relay.store.errors import StoreClosed, StoreError, StoreUnavailable
from relay.store.pgwriter import PoolWriter
from relay.store.sql import Tx, changed, execute
from relay.store.writer import WriteLock, Writer, write_lock_path
from tests.rig.tools import wait_until


def _table(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER NOT NULL)")
    conn.close()


def _insert(value: int | None):  # type: ignore[no-untyped-def]
    return lambda tx: changed(tx, "INSERT INTO t VALUES (?)", (value,))


def _values(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        return [x for (x,) in conn.execute("SELECT x FROM t ORDER BY x")]
    finally:
        conn.close()


class CountingWriter(Writer):
    """Counts its commits (each one fsync with synchronous=FULL)."""

    commits = 0

    def _commit(self, conn: sqlite3.Connection) -> None:
        super()._commit(conn)
        self.commits += 1


def full_disk() -> sqlite3.OperationalError:
    """What sqlite3 raises when the disk is full (SQLITE_FULL, result code 13)."""
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13
    error.sqlite_errorname = "SQLITE_FULL"
    return error


class FullDiskWriter(Writer):
    """A fault behind the writer seam: while `full`, every COMMIT fails as on a full disk."""

    full = False
    commits_refused = 0

    def _commit(self, conn: sqlite3.Connection) -> None:
        if self.full:
            self.commits_refused += 1
            raise full_disk()
        super()._commit(conn)


class FullDiskPoolWriter(PoolWriter):
    """The same fault for PostgreSQL: while `full`, each transaction fails just before its
    COMMIT with the error PostgreSQL raises when it cannot extend a file (SQLSTATE 53100)."""

    full = False
    commits_refused = 0

    def _before_commit(self, conn: Any) -> None:
        if self.full:
            self.commits_refused += 1
            raise psycopg.errors.DiskFull("could not extend file: No space left on device")


def full_disk_writer(db: Database) -> FullDiskWriter | FullDiskPoolWriter:
    """The full-disk writer of `db`'s engine."""
    if db.shared:
        return FullDiskPoolWriter(db.info)  # type: ignore[attr-defined]
    return FullDiskWriter(db.path)  # type: ignore[attr-defined]


def test_a_failing_job_fails_alone_and_a_stopped_writer_refuses(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    _table(db)

    async def main() -> None:
        writer = Writer(db)
        writer.start()
        results = await asyncio.gather(
            writer.run(_insert(1)), writer.run(_insert(None)), return_exceptions=True
        )
        assert results[0] == 1
        assert isinstance(results[1], StoreError) and "NOT NULL" in str(results[1])
        assert not isinstance(results[1], StoreUnavailable)  # a bug: retrying cannot help
        writer.stop()
        with pytest.raises(StoreClosed, match="writer has stopped"):
            await asyncio.wait_for(writer.run(lambda tx: None), 5)

    asyncio.run(main())
    assert _values(db) == [1]


def test_a_commit_on_a_full_disk_fails_the_batch_as_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    _table(db)

    async def main() -> None:
        writer = FullDiskWriter(db)
        writer.start()
        writer.full = True
        results = await asyncio.gather(
            writer.run(_insert(1)), writer.run(_insert(2)), return_exceptions=True
        )
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        assert "database or disk is full" in str(results[0])
        writer.full = False
        assert await writer.run(_insert(3)) == 1  # the writer goes on once there is room
        writer.stop()

    asyncio.run(main())
    assert _values(db) == [3]


def test_a_job_sees_an_opaque_handle_that_store_helpers_accept(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    _table(db)

    async def main() -> None:
        writer = Writer(db)
        writer.start()
        handle = await writer.run(lambda tx: tx)
        assert isinstance(handle, Tx)
        assert not hasattr(handle, "execute")  # callers pass it on; only the store runs SQL
        assert await writer.run(lambda tx: execute(tx, "SELECT 1").fetchone()[0]) == 1
        writer.stop()

    asyncio.run(main())


def test_jobs_queued_while_another_worker_commits_share_one_commit(tmp_path: Path) -> None:
    """Two workers' writers take turns under the write lock. What a worker submits while the
    other one holds it (its commit and fsync) joins the batch already waiting: one commit for
    all of them, not one for the first job and another for the rest; and the batch's callers
    are answered with one wake-up of their event loop, not one per job."""
    db = tmp_path / "w.db"
    _table(db)
    other_worker = WriteLock(write_lock_path(db))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        wake_ups = []
        wake = loop.call_soon_threadsafe
        loop.call_soon_threadsafe = lambda *a: wake_ups.append(a) or wake(*a)  # type: ignore[method-assign]
        writer = CountingWriter(db)
        writer.start()
        with other_worker:
            first = asyncio.ensure_future(writer.run(_insert(1)))
            while not writer._jobs.empty():  # the writer has taken it and waits for the lock
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.05)
            rest = [asyncio.ensure_future(writer.run(_insert(n))) for n in range(2, 6)]
            await asyncio.sleep(0.05)
            assert not first.done()  # no commit while the other worker holds the lock
        assert await asyncio.wait_for(asyncio.gather(first, *rest), 5) == [1] * 5
        assert writer.commits == 1
        assert len(wake_ups) == 1  # and one wake-up of the callers' loop for the batch
        writer.stop()

    asyncio.run(main())
    other_worker.close()
    assert _values(db) == [1, 2, 3, 4, 5]


def _wal_frames(db: Path) -> tuple[int, int]:
    """(frames in the WAL, frames of it already copied to the database file)."""
    conn = sqlite3.connect(db)
    try:
        _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames, copied
    finally:
        conn.close()


def test_no_commit_waits_for_a_wal_checkpoint_the_checkpointer_does_it(tmp_path: Path) -> None:
    """SQLite's automatic checkpoint (at 1000 WAL pages) ran inside the commit that crossed
    the mark: that batch's 250s, and the other workers', waited for the database file's
    write and fsync. The writer's commits never checkpoint; its Checkpointer thread does."""
    db = tmp_path / "w.db"
    _table(db)
    rows = 3000  # 3000 commits of a page or more each: three automatic checkpoints' worth

    async def fill(writer: Writer) -> None:
        for n in range(rows):
            await writer.run(_insert(n))

    never = Writer(db, checkpoint_every=3600)
    never.start()
    asyncio.run(fill(never))
    frames, _copied = _wal_frames(db)
    assert frames >= rows  # no commit copied the WAL back and started it over
    never.stop()

    db2 = tmp_path / "w2.db"
    _table(db2)
    soon = Writer(db2, checkpoint_every=0.05)
    soon.start()
    asyncio.run(fill(soon))
    wait_until(lambda: _wal_frames(db2)[1] == _wal_frames(db2)[0], 10, "the checkpointer")
    soon.stop()
    assert len(_values(db2)) == rows
