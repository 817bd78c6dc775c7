"""The SQLite backend: connections with the pragmas the durability promise needs, private
files, migrations tracked in `PRAGMA user_version`, and the driver's errors translated."""

import contextlib
import os
import sqlite3
from pathlib import Path

from relay.store.dialect import SQLITE_TYPES, Dialect
from relay.store.errors import StoreError, StoreUnavailable
from relay.store.schema import MIGRATIONS, render

# Result codes after which the same write can succeed later (https://sqlite.org/rescode.html):
# a full disk, an I/O error, another connection holding a lock, a file that cannot be opened.
_TRANSIENT = {
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_NOMEM",
    "SQLITE_PROTOCOL",
}
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def translate(exc: Exception) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    primary = "_".join(name.split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
    if primary in _TRANSIENT:
        return StoreUnavailable(f"{exc} ({name})")
    return StoreError(f"{exc} ({name})" if name else str(exc))


_BLOB_PIECE = 1 << 20


def write_blob(raw: sqlite3.Connection, table: str, column: str, rowid: int, data: bytes) -> None:
    """Fill a zeroblob() in place, a piece at a time: a bound BLOB is copied by SQLite, and the
    copy stays with the cached statement until its next use (25 MB per writer, for good)."""
    view = memoryview(data)
    with raw.blobopen(table, column, rowid) as blob:
        for start in range(0, len(view), _BLOB_PIECE):
            blob.write(view[start : start + _BLOB_PIECE])


SQLITE = Dialect(
    name="sqlite",
    ddl_types=SQLITE_TYPES,
    claim_lock="",
    returning_ids=False,
    driver_error=sqlite3.Error,
    translate=translate,
    write_blob=write_blob,
)


def connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    try:
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
    except sqlite3.Error as exc:
        raise translate(exc) from exc
    return conn


def create_private(path: Path) -> bool:
    """Create the database file readable by its owner only (issue 9: it holds every shop's
    DKIM key, password hashes and bodies). SQLite gives the -wal and -shm files the mode of
    the database file, so they are private too. True when the file was created."""
    if not path.parent.exists():
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)  # an empty file is an empty SQLite database
    return True


def database_files(path: Path) -> list[Path]:
    """The database and the WAL and shared-memory files next to it, those that exist."""
    candidates = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return [p for p in candidates if p.exists()]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this database has not seen; returns the schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreError(
            f"the database has schema version {version}, newer than this relay knows "
            f"({len(MIGRATIONS)}): run the newer relay, or restore a backup"
        )
    if version == len(MIGRATIONS):
        return version
    # A table rebuild drops a table others refer to: foreign keys are off while migrating and
    # checked before each commit (https://sqlite.org/lang_altertable.html, 12 steps).
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            _apply(conn, number, render(migration, SQLITE))
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
    return len(MIGRATIONS)


def _apply(conn: sqlite3.Connection, number: int, script: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(script):
            conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise StoreError(f"migration {number} left {len(broken)} broken references")
        conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


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
