"""A relay database on PostgreSQL: the `Database` of a `postgresql://` URL.

Reads use one connection per thread in autocommit mode (each statement sees what is committed
now), reconnected when it was lost; `transaction()` runs BEGIN/COMMIT on that same connection,
as SQLite's does; `relay serve` writes through a pool (relay.store.pgwriter).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from relay.store import postgres
from relay.store.db import Database
from relay.store.locks import AdvisoryNodeLock, LockSession
from relay.store.pgwriter import PoolWriter
from relay.store.postgres import POSTGRESQL, PgRaw
from relay.store.sql import Conn, Tx, committed


class PostgresDatabase(Database):
    shared = True

    def __init__(self, url: str, name: str = "relay") -> None:
        self.url = url
        self.info = postgres.conninfo(url, application=name[:63])
        self._local = threading.local()

    @property
    def display_url(self) -> str:
        return postgres.redacted(self.url)

    def raw(self) -> PgRaw:
        """This thread's connection (reconnected when the last one was lost)."""
        raw: PgRaw | None = getattr(self._local, "raw", None)
        if raw is None or not raw.usable:
            if raw is not None:
                with contextlib.suppress(psycopg.Error):
                    raw.conn.close()
            raw = PgRaw(postgres.connect(self.info))
            self._local.raw = raw
            self._local.conn = Conn(raw, POSTGRESQL)
        return raw

    def read(self) -> Conn:
        self.raw()
        conn: Conn = self._local.conn
        return conn

    def version(self) -> int:
        try:
            return postgres.schema_version(self.raw().conn)
        except psycopg.Error as exc:
            raise postgres.translate(exc) from exc

    def migrate(self) -> int:
        try:
            return postgres.migrate(self.raw().conn)
        except psycopg.Error as exc:
            raise postgres.translate(exc) from exc

    def writer(self) -> PoolWriter:
        return PoolWriter(self.info)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        raw = self.raw()
        tx = Tx(raw, POSTGRESQL)
        try:
            with raw.conn.transaction():
                yield tx
        except psycopg.Error as exc:  # COMMIT itself, or BEGIN on a lost connection
            raise postgres.translate(exc) from exc
        committed(tx)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Conn]:
        raw = self.raw()
        try:
            with raw.conn.transaction():
                raw.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield Conn(raw, POSTGRESQL)
        except psycopg.Error as exc:
            raise postgres.translate(exc) from exc

    def connect(self) -> Any:
        """A connection of its own (autocommit), for what must hold a session: advisory
        locks. The caller closes it."""
        return postgres.connect(self.info)

    def node_lock(self, node: str) -> AdvisoryNodeLock:
        return AdvisoryNodeLock(self.connect, node)

    def lock_session(self) -> LockSession:
        return LockSession(self.connect)

    def private_files(self) -> list[Path]:
        return []  # the server's files are the server's; relay.toml may hold a password

    def close(self) -> None:
        raw: PgRaw | None = getattr(self._local, "raw", None)
        if raw is not None:
            with contextlib.suppress(psycopg.Error):
                raw.conn.close()
            self._local.raw = self._local.conn = None
