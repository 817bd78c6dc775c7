"""Open the database with the pragmas the durability promise needs, and migrate it."""

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from relay.store.schema import MIGRATIONS

if TYPE_CHECKING:
    import sqlite_utils


def connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, timeout=30, isolation_level=None, check_same_thread=check_same_thread
    )
    conn.row_factory = sqlite3.Row
    # WAL: readers never block the writer. synchronous=FULL: the WAL is fsynced at every
    # commit, so a message answered with 250 survives power loss (SPEC "What it promises").
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this database has not seen; returns the schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a script into statements; sqlite3.complete_statement keeps trigger bodies whole."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if not _only_comments(current.rstrip(";")):
                statements.append(current.strip())
            current = ""
    if current.strip(" \n;") and not _only_comments(current.strip(" \n;")):
        statements.append(current.strip())
    return statements


def _only_comments(sql: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in sql.splitlines())


def open_database(path: Path) -> "sqlite_utils.Database":
    """A migrated sqlite-utils Database for the CLI and tests."""
    import sqlite_utils

    conn = connect(path)
    migrate(conn)
    return sqlite_utils.Database(conn)


def ensure_database(path: Path) -> Path:
    """Make sure the database exists and is migrated; returns its path."""
    if not path.parent.exists():
        raise FileNotFoundError(f"{path.parent} does not exist: run `relay init`")
    conn = connect(path)
    try:
        migrate(conn)
    finally:
        conn.close()
    return path
