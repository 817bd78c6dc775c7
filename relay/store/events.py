"""The append-only event log: a closed set of kinds (KumoMTA-style typed events)."""

import json
import sqlite3
import time
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    ACCEPTED = "accepted"  # stored after submission, answered 250
    SUPPRESSED = "suppressed"  # not sent on purpose (blocked, opted out, kind disabled)
    FAILED = "failed"  # can never be delivered (address or domain)
    WARNING = "warning"  # fallback identity, typo-looking domain, ...
    DEFERRED = "deferred"  # temporary failure, retry planned
    DELIVERED = "delivered"  # remote server accepted
    BOUNCED = "bounced"  # permanent failure (live reply, DSN or expiry)
    DELAYED = "delayed"  # a delay notice (DSN action=delayed) came back
    COMPLAINED = "complained"  # ARF spam complaint
    QUARANTINED = "quarantined"  # a bug stopped processing; needs `relay queue retry`
    RETRY = "retry"  # admin asked for an immediate retry
    BLOCKED = "blocked"  # address put on the block list
    UNBLOCKED = "unblocked"
    OPTED_OUT = "opted-out"
    OPTOUT_REMOVED = "optout-removed"
    IDENTITY = "identity"  # a shop domain changed between verified and unverified
    REPORT = "report"  # a bounce/complaint report was received


def add_event(
    conn: sqlite3.Connection,
    kind: EventKind,
    /,
    *,
    shop: str | None = None,
    message: str | None = None,
    recipient: int | None = None,
    at: float | None = None,
    **detail: Any,
) -> None:
    conn.execute(
        "INSERT INTO events (at, kind, shop, message, recipient, detail) VALUES (?,?,?,?,?,?)",
        (at or time.time(), str(kind), shop, message, recipient, json.dumps(detail)),
    )


def events_for_message(conn: sqlite3.Connection, message: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM events WHERE message = ? ORDER BY id", (message,))
    return [_event_dict(r) for r in rows]


def recent_events(
    conn: sqlite3.Connection, kinds: tuple[str, ...], limit: int = 10
) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(kinds))
    rows = conn.execute(
        f"SELECT * FROM events WHERE kind IN ({marks}) ORDER BY id DESC LIMIT ?",
        (*kinds, limit),
    )
    return [_event_dict(r) for r in rows]


def _event_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "at": row["at"],
        "kind": row["kind"],
        "shop": row["shop"],
        "message": row["message"],
        "recipient": row["recipient"],
        "detail": json.loads(row["detail"]),
    }
