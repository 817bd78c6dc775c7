"""The relay's database, opened from `[store] url`: the one way in for every caller.

    db = open_database(config.store.url, base=config.path.parent)   # migrated, ready
    conn = db.read()                  # this thread's read handle (a Conn)
    writer = db.writer(); writer.start(); await writer.run(job)      # relay serve's writes
    with db.transaction() as tx: ...  # one CLI write: all of it or nothing

`sqlite:///var/relay.db` (relative to the config file; `sqlite:////abs/path` is absolute) is
the embedded default; `postgresql://user@host/db` is the database several nodes share
(relay.store.postgres). Callers see `Conn`/`Tx` handles and `Database`, never a driver.
"""

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from relay.errors import SetupError
from relay.store import sqlite
from relay.store.errors import StoreError
from relay.store.locks import FileNodeLock, LockSession, NodeLock, serve_lock_path
from relay.store.sql import Conn, Tx, committed, value
from relay.store.writer import WriteLock, Writer, write_lock_path

T = TypeVar("T")
Read = Callable[[], Conn]
Write = Callable[[Callable[[Tx], T]], Awaitable[T]]

SQLITE_PREFIX = "sqlite:///"
POSTGRESQL_PREFIXES = ("postgresql://", "postgres://")


class GroupWriter(Protocol):
    """How a long-running process writes: `run(job)` returns once `job(tx)` is committed."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    async def run(self, job: Callable[[Tx], T]) -> T: ...


class Database(ABC):
    """One relay database, whatever the engine."""

    url: str
    # Whether several nodes may share this database (then periodic work takes an advisory
    # lock; on SQLite it is worker 0's, the one node's).
    shared: bool = False

    @property
    def display_url(self) -> str:
        """The URL for messages and logs (never a password)."""
        return self.url

    @abstractmethod
    def version(self) -> int:
        """The schema version the database has now (0: empty)."""

    @abstractmethod
    def migrate(self) -> int:
        """Bring the schema to the current version; returns it."""

    @abstractmethod
    def read(self) -> Conn:
        """The calling thread's read handle (SQLite connections stay in their thread)."""

    @abstractmethod
    def writer(self) -> GroupWriter:
        """A writer for a long-running process (start it, stop it)."""

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """One write transaction, taken the way the writers take theirs."""

    @abstractmethod
    def snapshot(self) -> contextlib.AbstractContextManager[Conn]:
        """A read handle that sees one consistent state of every table (relay db copy)."""

    @abstractmethod
    def node_lock(self, node: str) -> NodeLock:
        """The lock `relay serve` holds while it runs as `node` (relay.store.locks)."""

    def lock_session(self) -> LockSession | None:
        """Advisory locks for periodic work shared by several nodes; None where one node
        is all there can be (SQLite: its worker 0 runs the periodic work)."""
        return None

    @abstractmethod
    def private_files(self) -> list[Path]:
        """Files that hold the data and must be readable by the owner only."""

    @abstractmethod
    def close(self) -> None: ...


class SqliteDatabase(Database):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = SQLITE_PREFIX + str(path)
        self._local = threading.local()

    def migrate(self) -> int:
        """Bring the schema up to date under the write lock (two processes starting at once
        must not both apply a migration)."""
        lock = WriteLock(write_lock_path(self.path))
        try:
            with lock:
                return sqlite.migrate(self._raw())
        except sqlite.SQLITE.driver_error as exc:
            raise sqlite.translate(exc) from exc
        finally:
            lock.close()

    def version(self) -> int:
        return int(value(self.read(), "PRAGMA user_version"))

    def read(self) -> Conn:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = Conn(self._raw(), sqlite.SQLITE)
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Conn]:
        """A read transaction: in WAL mode it sees the database as of its first read."""
        raw = self._raw()
        _run(raw, "BEGIN")
        try:
            yield self.read()
        finally:
            _run(raw, "ROLLBACK")

    def _raw(self) -> Any:
        raw = getattr(self._local, "raw", None)
        if raw is None:
            raw = sqlite.connect(self.path)
            self._local.raw = raw
        return raw

    def writer(self) -> Writer:
        return Writer(self.path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """The write lock, then BEGIN IMMEDIATE: neither this nor `relay serve`'s writers
        wait in SQLite's busy loop for the other."""
        raw = self._raw()
        lock = WriteLock(write_lock_path(self.path))
        try:
            with lock:
                _run(raw, "BEGIN IMMEDIATE")
                tx = Tx(raw, sqlite.SQLITE)
                try:
                    yield tx
                except BaseException:
                    _run(raw, "ROLLBACK")
                    raise
                _run(raw, "COMMIT")
        finally:
            lock.close()
        committed(tx)

    def node_lock(self, node: str) -> FileNodeLock:
        return FileNodeLock(serve_lock_path(self.path))  # one node per SQLite file

    def private_files(self) -> list[Path]:
        return sqlite.database_files(self.path)

    def close(self) -> None:
        raw = getattr(self._local, "raw", None)
        if raw is not None:
            raw.close()
            self._local.raw = self._local.conn = None


def _run(raw: Any, statement: str) -> None:
    try:
        raw.execute(statement)
    except sqlite.SQLITE.driver_error as exc:
        raise sqlite.translate(exc) from exc


def sqlite_path(url: str, base: Path) -> Path | None:
    """The database file of a `sqlite:///` URL (relative to `base`), else None."""
    if not url.startswith(SQLITE_PREFIX):
        return None
    return (base / url[len(SQLITE_PREFIX) :]).resolve()


def open_database(
    url: str,
    base: Path,
    *,
    create: bool = False,
    migrate: bool = True,
    name: str = "relay",
    hint: str = "store.url in relay.toml",
) -> Database:
    """The database of `url`, migrated unless `migrate` is False (relay db migrate reads the
    version first). `create`: make a SQLite file's directory too (`relay init`); otherwise a
    missing directory means the relay was never initialised here. `name` tells PostgreSQL who
    connects (application_name: `relay/<node>`); `hint`: where the URL came from, for errors."""
    if url.startswith(POSTGRESQL_PREFIXES):
        db: Database = _open_postgresql(url, name, hint)
    else:
        db = _open_sqlite(url, base, create)
    if migrate:
        try:
            db.migrate()
        except StoreError as exc:
            db.close()
            raise SetupError(f"cannot open the database {db.display_url}: {exc}") from None
    return db


def _open_sqlite(url: str, base: Path, create: bool) -> Database:
    path = sqlite_path(url, base)
    if path is None:
        raise SetupError(
            f"store.url {url!r} is not a database URL (sqlite:///var/relay.db, or"
            " postgresql://user@host/database)"
        )
    if not create and not path.parent.exists():
        raise SetupError(f"{path.parent} does not exist: run `relay init`")
    sqlite.create_private(path)
    return SqliteDatabase(path)


def _open_postgresql(url: str, name: str, hint: str) -> Database:
    from relay.store.pgdb import PostgresDatabase  # psycopg only where PostgreSQL is used

    db = PostgresDatabase(url, name)
    try:
        db.read()  # connect now: a wrong URL or a server that is down says so at once
    except StoreError as exc:
        raise SetupError(
            f"cannot connect to the database {db.display_url}: {exc}; check {hint} and that"
            " the server is running"
        ) from None
    return db


def ping(read: Read) -> bool:
    """Whether a trivial read of the store works (for /healthz)."""
    try:
        value(read(), "SELECT 1 FROM shops LIMIT 1")
    except (StoreError, sqlite.SQLITE.driver_error):
        return False
    return True
