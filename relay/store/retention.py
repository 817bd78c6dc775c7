"""Retention (`[store] retention`): bodies dropped, the proof of sending kept.

After the retention period a message's body and its recipients' prefixes (the DKIM signature
and List-Unsubscribe headers put before the body) are dropped. What stays is the proof of
sending: the message row (shop, order, kind, subject, From, Message-ID, size, the body's
SHA-256, when it was accepted), every recipient row (state, reason, last reply, the token
bounces are matched by), every attempt (time, MX host, reply, TLS) and every event. So a late
bounce still finds its recipient (by the token of its bounce address, or the Message-ID).
A message with a recipient still waiting (queued, deferred, in flight, quarantined) keeps its
body whatever its age: it may still be sent.

Received reports are kept the same way: after the period the raw bytes of a processed report
are dropped (an empty `raw`), what parsing and matching found stays (kind, status, recipient,
the parsed JSON, the fingerprint that counts a repeat once). Anyone may send a report, so
without this the store would keep every stranger's bytes forever.
"""

import time

from relay.model import State
from relay.store.sql import Conn, Tx, changed, marks, quoted, rows, value

_WAITING = quoted((State.QUEUED, State.DEFERRED, State.INFLIGHT, State.QUARANTINED))
_DUE = (
    "SELECT id FROM messages m WHERE body IS NOT NULL AND created_at < ?"
    " AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id"
    f" AND r.state IN ({_WAITING})) ORDER BY created_at LIMIT ?"
)


def drop_old_bodies(tx: Tx, before: float, limit: int = 500) -> int:
    """Drop the bodies (and recipient prefixes) of up to `limit` messages accepted before
    `before` whose recipients are all done; how many. Call again until it returns 0: small
    transactions keep other writers from waiting."""
    ids = [r["id"] for r in rows(tx, _DUE, (before, limit))]
    if not ids:
        return 0
    now = time.time()
    changed(
        tx,
        f"UPDATE messages SET body = NULL, body_dropped_at = ? WHERE id IN ({marks(len(ids))})",
        (now, *ids),
    )
    changed(tx, f"UPDATE recipients SET prefix = ? WHERE message IN ({marks(len(ids))})",
            (b"", *ids))  # fmt: skip
    return len(ids)


_OLD_REPORTS = (
    "SELECT id FROM reports WHERE received_at < ? AND status <> 'new' AND length(raw) > 0"
    " ORDER BY id LIMIT ?"
)


def drop_old_reports(tx: Tx, before: float, limit: int = 500) -> int:
    """Drop the raw bytes of up to `limit` processed reports received before `before`; how
    many. Call again until it returns 0, as drop_old_bodies."""
    ids = [r["id"] for r in rows(tx, _OLD_REPORTS, (before, limit))]
    if ids:
        changed(tx, f"UPDATE reports SET raw = ? WHERE id IN ({marks(len(ids))})", (b"", *ids))
    return len(ids)


def bodies_kept(conn: Conn, before: float) -> int:
    """How many messages accepted before `before` still have their body."""
    return int(value(conn, "SELECT count(*) FROM messages WHERE body IS NOT NULL AND"
                           " created_at < ?", (before,)) or 0)  # fmt: skip
