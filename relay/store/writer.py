"""One writer thread with group commit.

Every write of `relay serve` on SQLite goes through here. The thread takes all jobs waiting,
runs each in its own savepoint inside one transaction, commits once (one fsync with
synchronous=FULL) and only then resolves the callers' futures: a submission is answered 250
after its rows are durable, yet 50 concurrent sessions share one fsync instead of paying one
each. `GroupWriter` is the engine-neutral loop; `Writer` is SQLite's (the PostgreSQL writer
is relay.store.pgwriter, which measured faster without the batching: see there).
"""

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from relay.store.dialect import Dialect
from relay.store.errors import StoreClosed
from relay.store.sql import Tx, committed, forget, mark
from relay.store.sqlite import PRIVATE_FILE, SQLITE, connect

T = TypeVar("T")
log = logging.getLogger(__name__)
_MAX_BATCH = 256
CHECKPOINT_EVERY = 0.5  # seconds between WAL checkpoints (Checkpointer)
_STOP = object()


def write_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".write-lock")


class WriteLock:
    """One writer at a time across the worker processes, with a prompt hand-over.

    Without it two workers meet in SQLite's busy handler, which polls with sleeps of 1 to
    100 ms: a 0.3 ms commit of one worker can cost the other tens of milliseconds. flock()
    wakes the waiter as soon as the holder releases (it waits outside the GIL, in its thread).
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class GroupWriter(ABC):
    """The batching loop, whatever the engine: hooks open the connection and run BEGIN,
    COMMIT and ROLLBACK on it."""

    dialect: Dialect

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="db-writer", daemon=True)
        self._conn: Any = None
        self._tx: Tx | None = None

    # -- engine hooks ----------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """A raw connection in autocommit mode (the loop runs BEGIN and COMMIT itself)."""

    @abstractmethod
    def _begin(self, conn: Any) -> None: ...

    def _commit(self, conn: Any) -> None:
        """COMMIT: one durable flush for the whole batch."""
        conn.execute("COMMIT")

    @abstractmethod
    def _rollback_if_open(self, conn: Any) -> None: ...

    def _batch_lock(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def _usable(self, conn: Any) -> Any:
        """The connection to run the next batch on (a backend may reconnect here)."""
        return conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        self._conn = self._connect()
        self._tx = Tx(self._conn, self.dialect)
        self._thread.start()

    def stop(self) -> None:
        """Finish every job already submitted, then close."""
        if self._thread.is_alive():
            self._jobs.put(_STOP)
            self._thread.join()
        self._close()

    async def run(self, job: Callable[[Tx], T]) -> T:
        """Run `job(tx)` in the next group transaction; return once it is committed.

        Raises what the job raised, StoreUnavailable when the commit failed (a full disk:
        nothing of the batch is written), StoreClosed when the writer has stopped."""
        if not self._thread.is_alive():  # never wait for a writer that is gone (451, not a hang)
            raise StoreClosed("the database writer has stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, future, loop))
        return await future

    def _loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is _STOP:
                return
            batch = [first]
            try:
                # The batch is taken once the write lock is held: while another worker
                # commits (its fsync), this worker's new jobs queue up and then share one
                # commit with those before them, instead of starting a batch of their own.
                with self._batch_lock():
                    self._take_waiting(batch)
                    self._commit_batch(batch)
            except BaseException as exc:  # e.g. a failing ROLLBACK: answer everyone, go on
                log.exception("writer: batch failed")
                _answer(batch, [(False, exc)] * len(batch))
            # Let go of the jobs before waiting for the next: they hold what they stored (a
            # 25 MB message), which would otherwise stay in memory until the next write.
            first = batch = None  # type: ignore[assignment]

    def _take_waiting(self, batch: list[Any]) -> None:
        """Add the jobs already queued to `batch` (up to _MAX_BATCH), never a stop."""
        while len(batch) < _MAX_BATCH:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is _STOP:  # finish this batch first; the loop stops at the next get
                self._jobs.put(_STOP)
                return
            batch.append(item)

    def _commit_batch(self, batch: list[Any]) -> None:
        """Run and commit `batch` (the caller holds the batch lock), then answer its callers."""
        outcomes: list[tuple[bool, Any]] = []
        try:
            self._conn = conn = self._usable(self._conn)
            tx = self._tx = Tx(conn, self.dialect)
            self._rollback_if_open(conn)  # left open by a batch whose ROLLBACK failed
            self._begin(conn)
            for job, _future, _loop in batch:
                outcomes.append(_run_in_savepoint(conn, tx, job, self.dialect))
            self._commit(conn)
            committed(tx)
        except Exception as exc:  # the commit itself failed: nobody's rows are durable
            log.error("group commit of %d jobs failed: %s", len(batch), exc)
            with contextlib.suppress(Exception):  # a lost connection cannot roll back
                self._rollback_if_open(self._conn)
            failure = _translated(exc, self.dialect)
            outcomes = [(False, failure)] * len(batch)
        _answer(batch, outcomes)


class Checkpointer:
    """Copies the WAL back into the database file from a thread of its own, every `every` s.

    SQLite's automatic checkpoint (at 1000 WAL pages) runs inside the COMMIT that crosses the
    mark: that batch, and through the write lock the other workers' batches too, then wait for
    some 4 MB to be written to the database file and fsync'd, tens of milliseconds on a busy
    disk: the p99 of the 250. The writer's connection turns it off; a PASSIVE checkpoint here
    (https://sqlite.org/c3ref/wal_checkpoint_v2.html) runs beside the writers and never waits
    for a lock, so no commit waits for it. The WAL still starts over once a checkpoint has
    copied all of it (the next writer resets it), as with the automatic one.
    """

    def __init__(self, path: Path, every: float = CHECKPOINT_EVERY) -> None:
        self._path, self._every = path, every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="db-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        conn = connect(self._path, check_same_thread=False)
        try:
            while not self._stopping.wait(self._every):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. a full disk: the next round tries again
                    log.warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()


class Writer(GroupWriter):
    """SQLite's writer: the write lock across worker processes, then BEGIN IMMEDIATE; its WAL
    checkpoints run in a Checkpointer, never inside a commit."""

    dialect = SQLITE

    def __init__(self, path: Path, checkpoint_every: float = CHECKPOINT_EVERY) -> None:
        super().__init__()
        self._path = path
        self._lock = WriteLock(write_lock_path(path))
        self._checkpointer = Checkpointer(path, checkpoint_every)

    def start(self) -> None:
        super().start()
        self._checkpointer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self._path, check_same_thread=False)
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's work
        return conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _rollback_if_open(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def _batch_lock(self) -> WriteLock:
        return self._lock

    def stop(self) -> None:
        super().stop()
        self._checkpointer.stop()
        self._lock.close()


def _run_in_savepoint(conn: Any, tx: Tx, job: Callable[[Tx], Any], dialect: Dialect) -> Any:
    conn.execute("SAVEPOINT job")
    since = mark(tx)
    try:
        result = job(tx)
    except Exception as exc:
        forget(tx, since)
        conn.execute("ROLLBACK TO SAVEPOINT job")
        conn.execute("RELEASE SAVEPOINT job")
        return (False, _translated(exc, dialect))
    conn.execute("RELEASE SAVEPOINT job")
    return (True, result)


def _translated(exc: Exception, dialect: Dialect) -> Exception:
    """A driver error as a StoreError (callers never see the driver); others unchanged."""
    if not isinstance(exc, dialect.driver_error):
        return exc
    failure = dialect.translate(exc)
    failure.__cause__ = exc
    return failure


def _answer(batch: list[Any], outcomes: list[tuple[bool, Any]]) -> None:
    """Resolve the batch's futures: one call_soon_threadsafe per event loop, not per job (each
    one writes to that loop's wake-up pipe: a syscall, and a loop pass to read it)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, bool, Any]]] = {}
    for (_job, future, loop), (ok, value) in zip(batch, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, ok, value))
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that caller's loop has closed
            loop.call_soon_threadsafe(_settle_all, answers)


def _settle_all(answers: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for future, ok, value in answers:
        _settle(future, ok, value)


def _settle(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
