"""How `relay serve` writes to PostgreSQL: a pool of connections, one transaction per job.

SQLite has one writer at a time, so batching many jobs into one commit (relay.store.writer)
is what makes it fast. PostgreSQL commits from many connections at once and groups their WAL
flushes itself (a backend that flushes the WAL flushes every commit record before it too), so
a pool runs jobs side by side and still shares fsyncs; a batch on one connection would run
every job's statements one after another and hold every job's row locks until the last one
commits. Both are here because the choice was measured (`bench/store_writer`, README "Store");
`PoolWriter` is the one `relay serve` uses.

Either way the caller gets its answer only after COMMIT returned, and every connection commits
with synchronous_commit = on: the 250 follows a durable commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from relay.store.errors import StoreClosed
from relay.store.postgres import POSTGRESQL, PgRaw, connect, pg_row, translate
from relay.store.sql import Tx, committed
from relay.store.writer import GroupWriter

T = TypeVar("T")
log = logging.getLogger(__name__)

# Connections (and threads) of one process's pool: enough to overlap commits of concurrent
# submissions and deliveries, few enough that nodes x workers x this fits the server's
# max_connections (100 by default: 4 nodes x 2 workers x 8 + reads and locks).
POOL_SIZE = 8


class PoolWriter:
    """Jobs run in threads, each on a pooled connection in its own transaction."""

    dialect = POSTGRESQL

    def __init__(self, info: str, size: int = POOL_SIZE) -> None:
        self._info, self._size = info, size
        self._pool: ConnectionPool | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._stopped = False

    def start(self) -> None:
        self._pool = ConnectionPool(
            self._info,
            min_size=min(2, self._size),
            max_size=self._size,
            kwargs={"row_factory": pg_row, "autocommit": False},
            # No check on every checkout (a round trip per job): a connection lost while idle
            # fails its next job as StoreUnavailable (callers retry) and is then replaced.
            timeout=30.0,  # waiting longer for a connection is an outage: StoreUnavailable
            name="relay-writer",
            open=False,
        )
        self._pool.open(wait=False)
        self._threads = ThreadPoolExecutor(self._size, thread_name_prefix="db-writer")

    def stop(self) -> None:
        """Finish every job already submitted, then close the pool."""
        self._stopped = True
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        if self._pool is not None:
            self._pool.close()

    async def run(self, job: Callable[[Tx], T]) -> T:
        """Run `job(tx)` in its own transaction; return once it is committed. Raises what the
        job raised (driver errors as StoreError/StoreUnavailable), StoreClosed once stopped."""
        if self._stopped or self._threads is None:
            raise StoreClosed("the database writer has stopped")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._threads, self._transaction, job)
        except RuntimeError as exc:  # the executor shut down between the check and here
            raise StoreClosed("the database writer has stopped") from exc

    def _transaction(self, job: Callable[[Tx], T]) -> T:
        assert self._pool is not None
        try:
            with self._pool.connection() as conn:
                tx = Tx(PgRaw(conn), POSTGRESQL)
                with conn.transaction():
                    result = job(tx)
                    self._before_commit(conn)
            committed(tx)
            return result
        except psycopg.Error as exc:
            raise translate(exc) from exc

    def _before_commit(self, conn: psycopg.Connection[Any]) -> None:
        """A seam for tests (a commit that fails as on a full disk); nothing by default."""


class PgGroupWriter(GroupWriter):
    """The group-commit loop on one PostgreSQL connection (kept for the measurement)."""

    dialect = POSTGRESQL

    def __init__(self, info: str) -> None:
        super().__init__()
        self._info = info

    def _connect(self) -> PgRaw:
        return PgRaw(connect(self._info))

    def _usable(self, conn: PgRaw) -> PgRaw:
        if conn.usable:
            return conn
        log.warning("writer: the database connection was lost; reconnecting")
        with contextlib.suppress(psycopg.Error):
            conn.conn.close()
        return self._connect()

    def _begin(self, conn: PgRaw) -> None:
        conn.execute("BEGIN")

    def _rollback_if_open(self, conn: PgRaw) -> None:
        if conn.usable and conn.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.conn.close()
            self._conn = None
