"""Queue operations on recipient rows: claim, release, retry (all through the writer)."""

import sqlite3
import time

from relay.store.events import EventKind, add_event

CLAIM_SQL = """
UPDATE recipients SET state = 'inflight', claimed_by = :me, updated_at = :now
WHERE id IN (
    SELECT id FROM recipients
    WHERE state IN ('queued', 'deferred') AND next_attempt_at <= :now
    ORDER BY next_attempt_at LIMIT :limit
)
RETURNING id, message, address, domain, attempts, created_at
"""


def claim_due(conn: sqlite3.Connection, me: str, limit: int) -> list[dict]:
    """Atomically take due rows (one UPDATE ... RETURNING): no row goes to two lanes."""
    rows = [
        dict(r) for r in conn.execute(CLAIM_SQL, {"me": me, "now": time.time(), "limit": limit})
    ]
    if rows:
        shops = dict(
            conn.execute(
                f"SELECT id, shop FROM messages WHERE id IN ({','.join('?' * len(rows))})",
                [r["message"] for r in rows],
            ).fetchall()
        )
        for row in rows:
            row["shop"] = shops.get(row["message"])
    return rows


def release_claims(
    conn: sqlite3.Connection, me: str | None = None, owner_pid: int | None = None
) -> int:
    """Put inflight rows back in the queue: ours at shutdown, a dead worker's, or everyone's
    at start-up (a process that died mid-delivery leaves its claims; at-least-once delivery)."""
    sql = "UPDATE recipients SET state = 'queued', claimed_by = NULL WHERE state = 'inflight'"
    args: tuple = ()
    if me is not None:
        sql, args = sql + " AND claimed_by = ?", (me,)
    elif owner_pid is not None:
        sql, args = sql + " AND claimed_by LIKE ?", (f"%:{owner_pid}:%",)
    return conn.execute(sql, args).rowcount


def next_due(conn: sqlite3.Connection) -> float | None:
    return conn.execute(
        "SELECT min(next_attempt_at) FROM recipients WHERE state IN ('queued', 'deferred')"
    ).fetchone()[0]


def retry_now(conn: sqlite3.Connection, where: str, args: tuple = ()) -> int:
    """Make matching deferred/quarantined rows due now (`relay queue retry|flush`)."""
    now = time.time()
    rows = conn.execute(
        f"SELECT id, message FROM recipients WHERE state IN ('deferred', 'quarantined')"
        f" AND ({where})",
        args,
    ).fetchall()
    for row in rows:
        conn.execute(
            "UPDATE recipients SET state = 'queued', next_attempt_at = ?, updated_at = ?"
            " WHERE id = ?",
            (now, now, row["id"]),
        )
        add_event(conn, EventKind.RETRY, message=row["message"], recipient=row["id"], at=now)
    return len(rows)


def load_body(conn: sqlite3.Connection, message: str) -> bytes:
    row = conn.execute("SELECT body FROM messages WHERE id = ?", (message,)).fetchone()
    return bytes(row["body"]) if row and row["body"] is not None else b""


def load_prefix(conn: sqlite3.Connection, recipient: int) -> bytes:
    row = conn.execute("SELECT prefix FROM recipients WHERE id = ?", (recipient,)).fetchone()
    return bytes(row["prefix"]) if row else b""
