"""`relay db copy`: every table of one relay database into another (an embedded relay's SQLite
into the PostgreSQL its nodes will share), checked afterwards.

The source is read in one snapshot; the target is written in one transaction (all of it or,
on any error, nothing), in the order the foreign keys need, with the ids kept, so tokens,
bounce addresses and opt-out links that name them keep working; PostgreSQL's id sequences
are then set past the copied ids. The target must be empty (the rows its migrations seed,
`meta`, are replaced), unless `force`, which empties it first. Then the check: rows per table
on both sides, and a sample of rows per table compared field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from relay.store.catalog import NOT_COPIED, Table, tables
from relay.store.db import Database
from relay.store.postgres import text_safe
from relay.store.sql import Conn, Tx, execute, marks, row, rows, run_many, value

CHUNK = 200  # rows read and written at a time (bodies can be megabytes each)
SEEDED = frozenset({"meta"})  # rows the migrations write; replaced, never "data"
Progress = Callable[[str, int], None]  # (table, rows just copied)


class CopyRefused(Exception):
    """The copy was not started; the message says why and what to do."""


@dataclass
class TableResult:
    table: str
    source: int
    copied: int = 0
    target: int = 0
    sampled: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.source == self.copied == self.target and not self.differences


def plan(source: Conn, target: Conn) -> list[Table]:
    """The tables to copy (the source's, in dependency order); refused when the target's
    schema differs (both were migrated to this relay's version, so it should not)."""
    theirs = {t.name: t for t in tables(target)}
    chosen = [t for t in tables(source) if t.name not in NOT_COPIED]
    for table in chosen:
        other = theirs.get(table.name)
        if other is None or set(other.columns) != set(table.columns):
            raise CopyRefused(
                f"the target's table {table.name} differs from the source's: run `relay db"
                " migrate` on both with this relay's version"
            )
    return [dataclasses.replace(t, identity=theirs[t.name].identity) for t in chosen]


def counts(conn: Conn, chosen: Sequence[Table]) -> dict[str, int]:
    return {t.name: int(value(conn, f'SELECT count(*) FROM "{t.name}"')) for t in chosen}


def occupied(conn: Conn, chosen: Sequence[Table]) -> dict[str, int]:
    """Tables of the target that hold data (rows its migrations seed do not count)."""
    return {n: c for n, c in counts(conn, chosen).items() if c and n not in SEEDED}


def copy_database(
    source: Database,
    target: Database,
    *,
    force: bool = False,
    sample: int = 50,
    progress: Progress = lambda table, n: None,
    before: Callable[[dict[str, int]], None] = lambda totals: None,
) -> list[TableResult]:
    """Copy, then check. `before(rows per table)` is called once the sizes are known."""
    with source.snapshot() as src:
        chosen = plan(src, target.read())
        results = {name: TableResult(name, n) for name, n in counts(src, chosen).items()}
        full = occupied(target.read(), chosen)
        if full and not force:
            listed = ", ".join(f"{name} ({n} rows)" for name, n in full.items())
            raise CopyRefused(
                f"the target database is not empty: {listed}; copy into an empty database, or"
                " pass --force to delete what it holds first"
            )
        before({name: r.source for name, r in results.items()})
        with target.transaction() as tx:
            _empty(tx, chosen)
            for table in chosen:
                results[table.name].copied = _copy_table(src, tx, table, progress)
            _reset_identities(tx, chosen)
        after = counts(target.read(), chosen)
        for table in chosen:
            result = results[table.name]
            result.target = after[table.name]
            result.sampled, result.differences = _compare_sample(src, target.read(), table, sample)
    return list(results.values())


def _empty(tx: Tx, chosen: Sequence[Table]) -> None:
    if tx.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in chosen)
        execute(tx, f"TRUNCATE {names} RESTART IDENTITY")
        return
    for table in reversed(chosen):  # what refers to a table goes before it
        execute(tx, f'DELETE FROM "{table.name}"')


def _copy_table(src: Conn, tx: Tx, table: Table, progress: Progress) -> int:
    copied = 0
    for chunk in _chunks(src, table):
        _insert(tx, table, chunk)
        copied += len(chunk)
        progress(table.name, len(chunk))
    return copied


def _chunks(src: Conn, table: Table) -> Iterator[list[tuple]]:
    """The source's rows in primary-key order, CHUNK at a time (keyset pagination: each page
    starts after the last key of the one before, never an OFFSET to count through)."""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    base = f'SELECT {columns} FROM "{table.name}"'
    if not table.key:
        yield [tuple(r) for r in rows(src, base)]
        return
    key = ", ".join(f'"{c}"' for c in table.key)
    positions = [table.columns.index(c) for c in table.key]
    last: tuple | None = None
    while True:
        if last is None:
            found = rows(src, f"{base} ORDER BY {key} LIMIT ?", (CHUNK,))
        else:
            after = f"({key}) > ({marks(len(last))})"
            found = rows(src, f"{base} WHERE {after} ORDER BY {key} LIMIT ?", (*last, CHUNK))
        if not found:
            return
        chunk = [tuple(r) for r in found]
        yield chunk
        last = tuple(chunk[-1][p] for p in positions)


def _insert(tx: Tx, table: Table, chunk: list[tuple]) -> None:
    columns = ", ".join(f'"{c}"' for c in table.columns)
    if tx.dialect.name == "postgresql":  # COPY: one stream instead of a statement per row
        statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
        with tx._raw.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for item in chunk:
                copy.write_row(text_safe(item))
        return
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks(len(table.columns))})'
    run_many(tx, sql, chunk)


def _reset_identities(tx: Tx, chosen: Sequence[Table]) -> None:
    """Ids given from now on start past the copied ones (PostgreSQL's sequences; SQLite takes
    the largest rowid plus one by itself)."""
    for table in chosen:
        if table.identity is None:
            continue
        column = table.identity
        execute(
            tx,
            f"SELECT setval(pg_get_serial_sequence(?, ?),"
            f' coalesce((SELECT max("{column}") FROM "{table.name}"), 0) + 1, false)',
            (f'"{table.name}"', column),
        )


def _compare_sample(src: Conn, dst: Conn, table: Table, size: int) -> tuple[int, list[str]]:
    """Up to `size` rows picked at random in the source, read on both sides, every field
    compared; what differs, in words."""
    if not table.key or size <= 0:
        return 0, []
    key = ", ".join(f'"{c}"' for c in table.key)
    keys = [tuple(r) for r in rows(src, f'SELECT {key} FROM "{table.name}"'
                                        " ORDER BY random() LIMIT ?", (size,))]  # fmt: skip
    columns = ", ".join(f'"{c}"' for c in table.columns)
    where = " AND ".join(f'"{c}" = ?' for c in table.key)
    sql = f'SELECT {columns} FROM "{table.name}" WHERE {where}'
    differences = []
    for wanted in keys:
        mine, theirs = row(src, sql, wanted), row(dst, sql, wanted)
        if theirs is None:
            differences.append(f"{table.name} {wanted}: missing in the target")
            continue
        for index, column in enumerate(table.columns):
            if not _same(mine[index], theirs[index]):
                differences.append(f"{table.name} {wanted}: {column} differs")
    return len(keys), differences


def _same(a: Any, b: Any) -> bool:
    """Equal as stored values: bytes however the driver hands them, numbers as numbers."""
    if isinstance(a, memoryview):
        a = bytes(a)
    if isinstance(b, memoryview):
        b = bytes(b)
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        return float(a) == float(b)
    return bool(a == b)
