"""Reading the queue: what is due, what waits, what is stuck (relay status, relay queue)."""

import time
from typing import Any

from relay.model import State
from relay.store.sql import Conn, marks, quoted, rows, value

# Longer than any delivery of a batch takes (10 minutes for the final dot at most, RFC 5321
# 4.5.3.2.6): a row held so long is stuck, lease or not (a result that cannot be saved, a hang).
STUCK_AFTER = 30 * 60.0

_WAITING = quoted((State.QUEUED, State.DEFERRED))


def next_due(conn: Conn) -> float | None:
    found = value(conn, f"SELECT min(next_attempt_at) FROM recipients WHERE state IN ({_WAITING})")
    return None if found is None else float(found)


def waiting_counts(conn: Conn) -> dict[str, int]:
    """Recipients not done yet, per state (queued, deferred, inflight, quarantined): an index
    range, not a scan of the history (metrics read it at every scrape)."""
    states = (State.QUEUED, State.DEFERRED, State.INFLIGHT, State.QUARANTINED)
    counts = {str(s): 0 for s in states}
    found = rows(
        conn,
        f"SELECT state, count(*) AS n FROM recipients WHERE state IN ({quoted(states)})"
        " GROUP BY state",
    )
    for row in found:
        counts[row["state"]] = int(row["n"])
    return counts


def oldest_due_age(conn: Conn, now: float | None = None) -> float:
    """How long the longest-waiting due recipient has been due (0: none is due)."""
    now = time.time() if now is None else now
    due = next_due(conn)
    return max(0.0, now - due) if due is not None else 0.0


def state_counts(conn: Conn) -> dict[str, int]:
    """Recipients per state; every state is present (0 when none)."""
    counts = {str(s): 0 for s in State}
    for found in rows(conn, "SELECT state, count(*) AS n FROM recipients GROUP BY state"):
        counts[found["state"]] = found["n"]
    return counts


def queue_rows(conn: Conn, states: tuple[str, ...], limit: int = 1000) -> list[dict[str, Any]]:
    found = rows(
        conn,
        "SELECT id, message, address, state, attempts, next_attempt_at, last_code,"
        " last_status, last_text, lease_owner, lease_expires, created_at FROM recipients"
        f" WHERE state IN ({marks(len(states))}) ORDER BY next_attempt_at, id LIMIT ?",
        (*states, limit),
    )
    return [dict(r) for r in found]


def oldest_deferred(conn: Conn) -> dict[str, Any] | None:
    found = rows(
        conn,
        "SELECT id, address, message, created_at, last_text FROM recipients"
        " WHERE state = ? ORDER BY created_at LIMIT 1",
        (str(State.DEFERRED),),
    )
    return dict(found[0]) if found else None


def recent_failures(conn: Conn, limit: int = 5) -> list[dict[str, Any]]:
    found = rows(
        conn,
        "SELECT message, address, state, reason, last_status, last_text, detail, updated_at"
        f" FROM recipients WHERE state IN ({quoted((State.BOUNCED, State.FAILED))})"
        " ORDER BY updated_at DESC LIMIT ?",
        (limit,),
    )
    return [dict(r) for r in found]


def quarantined(conn: Conn, limit: int = 5) -> list[dict[str, Any]]:
    found = rows(
        conn,
        "SELECT message, address, detail FROM recipients WHERE state = ? LIMIT ?",
        (str(State.QUARANTINED), limit),
    )
    return [dict(r) for r in found]


def stuck_inflight(conn: Conn, now: float | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Rows in flight whose lease ended without a result, or held longer than a delivery
    takes (issue 9: a result that cannot be saved keeps its row in flight)."""
    now = time.time() if now is None else now
    found = rows(
        conn,
        "SELECT id, message, address, lease_owner, lease_expires, claimed_at FROM recipients"
        " WHERE state = ? AND (lease_expires < ? OR claimed_at < ?)"
        " ORDER BY claimed_at LIMIT ?",
        (str(State.INFLIGHT), now, now - STUCK_AFTER, limit),
    )
    return [dict(r) for r in found]
