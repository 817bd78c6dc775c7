"""The PostgreSQL backend (psycopg 3): connections that take the store's `?` SQL, rows readable
by position and by name, the driver's errors translated, and migrations under an advisory lock.

The store writes its SQL once with `?` placeholders (relay.store.sql); `PgRaw` turns them into
psycopg's `%s` (and a literal `%` into `%%`), once per statement text. Every connection commits
with `synchronous_commit = on`, whatever the server's default: a message is answered 250 only
after its commit is flushed to disk (SPEC "What it promises"), as SQLite's synchronous=FULL.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import psycopg
from psycopg import conninfo as pg_conninfo

from relay.store.dialect import POSTGRESQL_TYPES, Dialect, lock_key
from relay.store.errors import StoreError, StoreUnavailable
from relay.store.schema import MIGRATIONS, render

# SQLSTATE classes after which the same statement can succeed later
# (https://www.postgresql.org/docs/current/errcodes-appendix.html): connection exceptions,
# serialization failures and deadlocks, insufficient resources (a full disk, too many
# connections), a lock not available, the server shutting down or restarting, I/O errors.
_TRANSIENT_CLASSES = {"08", "40", "53", "55", "57", "58"}

# Client-side settings for every connection, unless the URL sets them: give up connecting
# after 5 s; notice a dead server or a cut network in seconds, not after TCP's 15 minutes
# (keepalives; tcp_user_timeout bounds unacknowledged sends, in ms).
_CONNECT_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "10000",
}
# Server-side settings of every session: durable commits (the 250 follows the flush); the
# server notices a dead client in seconds too, so its advisory locks (periodic work, the
# node's name) and transactions are freed for the other nodes.
_SESSION_OPTIONS = (
    "-c synchronous_commit=on -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2"
    " -c tcp_keepalives_count=3 -c idle_in_transaction_session_timeout=300000"
)


def translate(exc: Exception) -> StoreError:
    state = getattr(exc, "sqlstate", None)
    text = f"{exc} (SQLSTATE {state})" if state else str(exc)
    if state is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return StoreUnavailable(text)  # no answer from the server: connection lost or refused
    if state and state[:2] in _TRANSIENT_CLASSES:
        return StoreUnavailable(text)
    return StoreError(text)


POSTGRESQL = Dialect(
    name="postgresql",
    ddl_types=POSTGRESQL_TYPES,
    claim_lock="FOR UPDATE SKIP LOCKED",
    returning_ids=True,
    driver_error=psycopg.Error,
    translate=translate,
    row_lock=" FOR UPDATE",
    # Waits for the name's lock and holds it until COMMIT or ROLLBACK (READ COMMITTED: the
    # statements after it see what the previous holder committed).
    name_lock="SELECT pg_advisory_xact_lock(?)",
)


@functools.lru_cache(maxsize=2048)
def pg_sql(sql: str) -> str:
    """The store's SQL for psycopg: `?` outside string literals becomes `%s`, `%` `%%`."""
    out, quoted = [], False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


class PgRow(tuple):
    """A row readable by position and by column name, and `dict(row)` (as sqlite3.Row)."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple[bytes, ...]) -> type[PgRow]:
    index = {name.decode(): i for i, name in enumerate(names)}
    return type("PgRow", (PgRow,), {"__slots__": (), "_index": index})


def pg_row(cursor: psycopg.Cursor[Any]) -> Any:
    """psycopg row factory: rows of a PgRow class made once per column list. The names come
    from the result itself (`pgresult.fname`): `cursor.description` would build a Column
    object per column for every statement, a tenth of the relay's CPU on PostgreSQL."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return tuple
    return _row_class(tuple(result.fname(i) or b"" for i in range(result.nfields)))


def text_safe(args: Sequence[Any]) -> Sequence[Any]:
    """PostgreSQL's text cannot hold NUL, which SQLite stores and hostile input can carry (a
    remote server's reply, a header): NUL becomes U+FFFD instead of failing the write."""
    if any(isinstance(a, str) and "\x00" in a for a in args):
        return [a.replace("\x00", "\ufffd") if isinstance(a, str) else a for a in args]
    return args


class PgRaw:
    """What `relay.store.sql` needs of a raw connection, over a psycopg connection."""

    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(pg_sql(sql), text_safe(args))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(pg_sql(sql), [text_safe(args) for args in seq])

    @property
    def usable(self) -> bool:
        return not (self.conn.closed or self.conn.broken)


def conninfo(url: str, application: str = "relay") -> str:
    """libpq connection string of a `postgresql://` URL with our defaults where the URL has
    none (a setting in the URL wins, e.g. `?connect_timeout=20`)."""
    given = pg_conninfo.conninfo_to_dict(url)
    settings: dict[str, Any] = {**_CONNECT_DEFAULTS, "application_name": application}
    settings.update(given)
    settings["options"] = f"{given.get('options', '')} {_SESSION_OPTIONS}".strip()
    return pg_conninfo.make_conninfo("", **settings)


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = pg_conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable URL)"
    user = parts.get("user", "")
    host = parts.get("host", "")
    port = f":{parts['port']}" if parts.get("port") else ""
    secret = ":***" if parts.get("password") else ""
    at = "@" if user else ""
    return f"postgresql://{user}{secret}{at}{host}{port}/{parts.get('dbname', '')}"


def has_password(url: str) -> bool:
    try:
        return bool(pg_conninfo.conninfo_to_dict(url).get("password"))
    except psycopg.ProgrammingError:
        return False


def connect(info: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(info, autocommit=autocommit, row_factory=pg_row)
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return conn


# -- advisory locks ----------------------------------------------------------------------------


@contextlib.contextmanager
def advisory_lock(conn: psycopg.Connection[Any], name: str) -> Iterator[None]:
    """Hold the session-level advisory lock `name` on `conn` (waiting for it)."""
    key = lock_key(name)
    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        yield
    finally:
        if not (conn.closed or conn.broken):
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def try_lock(conn: psycopg.Connection[Any], name: str) -> bool:
    found = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(name),)).fetchone()
    return bool(found and found[0])


def unlock(conn: psycopg.Connection[Any], name: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(name),))


# -- migrations ----------------------------------------------------------------------------------

# The schema version: one row (SQLite keeps it in PRAGMA user_version).
_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The version of the schema in this database; 0 for an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not (exists and exists[0]):
        return 0
    found = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(found[0] or 0) if found else 0


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Apply the migrations this database has not seen, each in its own transaction with the
    new version; under an advisory lock, so two nodes starting at once do not both migrate
    (the second waits, then finds nothing left to do). Returns the schema version."""
    if schema_version(conn) == len(MIGRATIONS):
        return len(MIGRATIONS)
    with advisory_lock(conn, "migrate"):
        conn.execute(_VERSION_TABLE)
        version = schema_version(conn)
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the database has schema version {version}, newer than this relay knows "
                f"({len(MIGRATIONS)}): run the newer relay, or restore a backup"
            )
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with conn.transaction():
                conn.execute(render(migration, POSTGRESQL))  # several statements, no params
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
    return len(MIGRATIONS)
