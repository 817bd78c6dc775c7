"""The relay's database, opened from `[store] url`: the one way in for every caller.

    db = open_database(config.store.url, base=config.path.parent)   # migrated, ready
    conn = db.read()                  # this thread's read handle (a Conn)
    writer = db.writer(); writer.start(); await writer.run(job)      # relay serve's writes
    with db.transaction() as tx: ...  # one CLI write: all of it or nothing

Only `sqlite:///` works in this version (a relative path is relative to the config file,
`sqlite:////abs/path` is absolute); `postgresql://` is refused with a clear error until the
PostgreSQL backend exists. Callers see `Conn`/`Tx` handles and `Database`, never a driver.
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
from relay.store.sql import Conn, Tx, value
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

    def read(self) -> Conn:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = Conn(self._raw(), sqlite.SQLITE)
            self._local.conn = conn
        return conn

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
                try:
                    yield Tx(raw, sqlite.SQLITE)
                except BaseException:
                    _run(raw, "ROLLBACK")
                    raise
                _run(raw, "COMMIT")
        finally:
            lock.close()

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


def open_database(url: str, base: Path, *, create: bool = False) -> Database:
    """The migrated database of `url`. `create`: make its directory too (`relay init`);
    otherwise a missing directory means the relay was never initialised here."""
    path = sqlite_path(url, base)
    if path is None:
        if url.startswith(POSTGRESQL_PREFIXES):
            raise SetupError(
                f"store.url {url!r}: this version stores on SQLite only; PostgreSQL (several "
                "nodes) comes with a later version. Use sqlite:///var/relay.db for now"
            )
        raise SetupError(f"store.url {url!r} is not a database URL (sqlite:///var/relay.db)")
    if not create and not path.parent.exists():
        raise SetupError(f"{path.parent} does not exist: run `relay init`")
    sqlite.create_private(path)
    db = SqliteDatabase(path)
    try:
        db.migrate()
    except StoreError as exc:
        db.close()
        raise SetupError(f"cannot open the database {path}: {exc}") from None
    return db


def ping(read: Read) -> bool:
    """Whether a trivial read of the store works (for /healthz)."""
    try:
        value(read(), "SELECT 1 FROM shops LIMIT 1")
    except (StoreError, sqlite.SQLITE.driver_error):
        return False
    return True
