"""What tables a relay database has: their columns, primary keys and the tables they refer to
(SQLite's pragmas, PostgreSQL's information_schema). `relay db copy` copies whatever the
migrations made, in an order that satisfies every foreign key, without a list to keep up."""

from __future__ import annotations

from dataclasses import dataclass

from relay.store.sql import Conn, rows

# Bookkeeping of one database that never moves to another: the schema version (each side has
# its own) and the nodes that ran on the source (they do not run on the target).
NOT_COPIED = frozenset({"schema_version", "nodes"})


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the primary key's columns, in order
    refers_to: frozenset[str]  # tables its foreign keys point at
    identity: str | None  # a column whose values a sequence hands out (PostgreSQL)


def tables(conn: Conn) -> list[Table]:
    """The relay's tables, each after every table it refers to."""
    found = _sqlite_tables(conn) if conn.dialect.name == "sqlite" else _pg_tables(conn)
    return _dependency_order(found)


def _sqlite_tables(conn: Conn) -> list[Table]:
    names = [
        r["name"]
        for r in rows(
            conn,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name",
        )
    ]
    out = []
    for name in names:
        info = rows(conn, f'PRAGMA table_info("{name}")')
        columns = tuple(r["name"] for r in info)
        key = tuple(r["name"] for r in sorted((r for r in info if r["pk"]), key=lambda r: r["pk"]))
        refers = frozenset(r["table"] for r in rows(conn, f'PRAGMA foreign_key_list("{name}")'))
        out.append(Table(name, columns, key, refers - {name}, None))
    return out


_PG_COLUMNS = """
SELECT table_name, column_name, is_identity FROM information_schema.columns
WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
"""
_PG_KEYS = """
SELECT k.table_name, k.column_name, k.ordinal_position FROM information_schema.key_column_usage k
JOIN information_schema.table_constraints c
  ON c.constraint_name = k.constraint_name AND c.table_schema = k.table_schema
WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()
ORDER BY k.table_name, k.ordinal_position
"""
_PG_REFERENCES = """
SELECT c.table_name, u.table_name AS target FROM information_schema.table_constraints c
JOIN information_schema.constraint_column_usage u
  ON u.constraint_name = c.constraint_name AND u.table_schema = c.table_schema
WHERE c.constraint_type = 'FOREIGN KEY' AND c.table_schema = current_schema()
"""


def _pg_tables(conn: Conn) -> list[Table]:
    columns: dict[str, list[str]] = {}
    identity: dict[str, str] = {}
    for r in rows(conn, _PG_COLUMNS):
        columns.setdefault(r["table_name"], []).append(r["column_name"])
        if r["is_identity"] == "YES":
            identity[r["table_name"]] = r["column_name"]
    keys: dict[str, list[str]] = {}
    for r in rows(conn, _PG_KEYS):
        keys.setdefault(r["table_name"], []).append(r["column_name"])
    refers: dict[str, set[str]] = {}
    for r in rows(conn, _PG_REFERENCES):
        refers.setdefault(r["table_name"], set()).add(r["target"])
    return [
        Table(
            name,
            tuple(cols),
            tuple(keys.get(name, ())),
            frozenset(refers.get(name, set()) - {name}),
            identity.get(name),
        )
        for name, cols in sorted(columns.items())
    ]


def _dependency_order(found: list[Table]) -> list[Table]:
    """Referenced tables first (a cycle, which our schema does not have, ends in name order)."""
    by_name = {t.name: t for t in found}
    done: list[Table] = []
    seen: set[str] = set()

    def visit(table: Table, path: frozenset[str]) -> None:
        if table.name in seen or table.name in path:
            return
        for target in sorted(table.refers_to):
            if target in by_name:
                visit(by_name[target], path | {table.name})
        seen.add(table.name)
        done.append(table)

    for table in found:
        visit(table, frozenset())
    return done
