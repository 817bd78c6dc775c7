"""The append-only event log: a closed set of kinds (relay.model.EventKind).

`add_event` is the one place events are written: an outcome event brings its day counter,
webhook outbox row and escalation with it, in the same transaction (relay.store.outcomes).
"""

import json
import time
from typing import Any

from relay.model import EventKind
from relay.store.outcomes import after_event
from relay.store.sql import Conn, Tx, execute, marks, rows


def add_event(
    tx: Tx,
    kind: EventKind,
    /,
    *,
    shop: str | None = None,
    message: str | None = None,
    recipient: int | None = None,
    at: float | None = None,
    **detail: Any,
) -> None:
    at = at or time.time()
    execute(
        tx,
        "INSERT INTO events (at, kind, shop, message, recipient, detail) VALUES (?,?,?,?,?,?)",
        (at, str(kind), shop, message, recipient, json.dumps(detail)),
    )
    after_event(tx, kind, shop, message, recipient, at, detail)


def recent_events(conn: Conn, kinds: tuple[str, ...], limit: int = 10) -> list[dict[str, Any]]:
    found = rows(
        conn,
        f"SELECT * FROM events WHERE kind IN ({marks(len(kinds))}) ORDER BY id DESC LIMIT ?",
        (*kinds, limit),
    )
    return [_event_dict(r) for r in found]


def identity_changes(conn: Conn, shop: str | None, limit: int = 5) -> list[dict[str, Any]]:
    """When a shop's domains became verified or unverified, newest first."""
    sql, args = "SELECT at, shop, detail FROM events WHERE kind = ?", [str(EventKind.IDENTITY)]
    if shop:
        sql, args = sql + " AND shop = ?", [*args, shop]
    found = rows(conn, sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
    return [{"at": r["at"], "shop": r["shop"], **json.loads(r["detail"])} for r in found]


def _event_dict(row: Any) -> dict[str, Any]:
    return {
        "at": row["at"],
        "kind": row["kind"],
        "shop": row["shop"],
        "message": row["message"],
        "recipient": row["recipient"],
        "detail": json.loads(row["detail"]),
    }
