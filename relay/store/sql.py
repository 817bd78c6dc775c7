"""The handles callers hold, and the few helpers through which the store runs its SQL.

Outside `relay/store/`, a `Conn` (a read handle) or a `Tx` (a write transaction) is opaque: it
is passed to store functions and never used directly (tests/test_layering_sql.py checks that
no other module runs SQL or imports a database driver). Inside, every statement goes through
the helpers below, which turn a driver's exceptions into `StoreError`/`StoreUnavailable`.

SQL is written once, with `?` placeholders and in the subset SQLite and PostgreSQL share
(`ON CONFLICT`, `RETURNING`); what differs is a named hook of the handle's `Dialect`. A
backend's raw connection takes `execute(sql, args)` with `?` placeholders and returns a cursor
whose rows can be read by position and by column name (`sqlite3.Row`; a PostgreSQL backend
translates the placeholders and uses a row factory that does both).
"""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from relay.store.dialect import Dialect, lock_key

Args = Sequence[Any] | Mapping[str, Any]
log = logging.getLogger(__name__)


class Conn:
    """An open connection of the store: pass it to store functions (read them)."""

    __slots__ = ("_dialect", "_raw")

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self._raw = raw
        self._dialect = dialect

    @property
    def dialect(self) -> Dialect:
        return self._dialect


class Tx(Conn):
    """A write transaction: store functions that change data take one. The writer (or
    `Database.transaction()`) commits it; a failing job is rolled back alone."""

    __slots__ = ("_after",)

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        super().__init__(raw, dialect)
        self._after: list[Callable[[], None]] = []


def after_commit(tx: Tx, action: Callable[[], None]) -> None:
    """Run `action` once `tx` is committed (never when it is rolled back): for what must only
    count facts that are durable (relay.store.hooks)."""
    tx._after.append(action)


def mark(tx: Tx) -> int:
    """Where the next job's after-commit actions start (a job rolled back to its savepoint
    drops its own with `forget(tx, mark)`)."""
    return len(tx._after)


def forget(tx: Tx, since: int = 0) -> None:
    del tx._after[since:]


def committed(tx: Tx) -> None:
    """The transaction is committed: run its actions (a failing one is logged, never raised:
    the caller's data is durable whatever an observer does)."""
    actions, tx._after = tx._after, []
    for action in actions:
        try:
            action()
        except Exception:
            log.exception("after-commit action failed")


def execute(c: Conn, sql: str, args: Args = ()) -> Any:
    """Run one statement; the driver's cursor (for rowcount)."""
    try:
        return c._raw.execute(sql, args)
    except c._dialect.driver_error as exc:
        raise c._dialect.translate(exc) from exc


def rows(c: Conn, sql: str, args: Args = ()) -> list[Any]:
    try:
        return c._raw.execute(sql, args).fetchall()
    except c._dialect.driver_error as exc:
        raise c._dialect.translate(exc) from exc


def row(c: Conn, sql: str, args: Args = ()) -> Any | None:
    try:
        return c._raw.execute(sql, args).fetchone()
    except c._dialect.driver_error as exc:
        raise c._dialect.translate(exc) from exc


def value(c: Conn, sql: str, args: Args = ()) -> Any:
    """The first column of the first row, or None."""
    found = row(c, sql, args)
    return None if found is None else found[0]


def changed(c: Conn, sql: str, args: Args = ()) -> int:
    """Run an UPDATE/DELETE/INSERT; how many rows it changed (0: its guard did not match)."""
    return int(execute(c, sql, args).rowcount)


def insert(c: Conn, sql: str, args: Args = ()) -> int:
    """Run an INSERT into a table with an `id` column; the new row's id (dialect hook: the
    driver's lastrowid where it has one, else `RETURNING id`)."""
    if c._dialect.returning_ids:
        found = row(c, sql + " RETURNING id", args)
        assert found is not None
        return int(found[0])
    return int(execute(c, sql, args).lastrowid)


def serialize(tx: Tx, name: str) -> None:
    """Hold a lock on `name` until `tx` ends, before reading what decides a write: two
    transactions that serialize on one name (on two nodes, or two connections of one writer
    pool) see each other's rows one after the other. Dialect hook `name_lock` (nothing on
    SQLite, whose write transactions never overlap)."""
    if tx._dialect.name_lock:
        execute(tx, tx._dialect.name_lock, (lock_key(name),))


def run_many(c: Conn, sql: str, seq: Iterable[Args]) -> None:
    try:
        c._raw.executemany(sql, seq)
    except c._dialect.driver_error as exc:
        raise c._dialect.translate(exc) from exc


def marks(count: int) -> str:
    """`?,?,?` for an IN list of `count` values."""
    return ",".join("?" * count)


def quoted(values: Iterable[str]) -> str:
    """`'a','b'` for an IN list of constants we own (state names), never for user data."""
    return ",".join(f"'{v}'" for v in values)


LARGE_VALUE = 1 << 20  # above this a value is written in place (Dialect.write_blob)


def insert_large(c: Tx, sql: str, args: list[Any], blob_at: int, table: str, column: str) -> None:
    """An INSERT whose `args[blob_at]` may be large: where the engine keeps bound values
    (SQLite), the statement gets `zeroblob(?)` with the size at `{blob}` and the value is written
    in place afterwards; elsewhere it is bound as usual. `sql` has one `{blob}` placeholder."""
    data = args[blob_at]
    write = c._dialect.write_blob
    if write is None or len(data) <= LARGE_VALUE:
        execute(c, sql.format(blob="?"), args)
        return
    args = [*args[:blob_at], len(data), *args[blob_at + 1 :]]
    cursor = execute(c, sql.format(blob="zeroblob(?)"), args)
    try:
        write(c._raw, table, column, cursor.lastrowid, data)
    except c._dialect.driver_error as exc:
        raise c._dialect.translate(exc) from exc
