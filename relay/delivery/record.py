"""One transaction per result: the attempt, the recipient's new state and the event."""

import sqlite3
import time

from relay.delivery.decide import Decision
from relay.delivery.outcome import Attempt
from relay.store.events import EventKind, add_event
from relay.store.suppression import add_block

_EVENT = {
    "delivered": EventKind.DELIVERED,
    "deferred": EventKind.DEFERRED,
    "bounced": EventKind.BOUNCED,
    "failed": EventKind.FAILED,
}


def record_result(
    conn: sqlite3.Connection, recipient: dict, attempt: Attempt, decision: Decision
) -> None:
    now = time.time()
    reply = attempt.reply
    conn.execute(
        "INSERT INTO attempts (recipient, at, mx_host, code, status, text, tls, duration_ms)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (
            recipient["id"],
            now,
            attempt.mx_host,
            reply.code,
            reply.status,
            reply.text,
            int(attempt.tls),
            attempt.duration_ms,
        ),
    )
    detail = _detail(decision, str(reply))
    conn.execute(
        "UPDATE recipients SET state = ?, reason = ?, detail = ?, attempts = attempts + 1,"
        " next_attempt_at = ?, claimed_by = NULL, last_code = ?, last_status = ?,"
        " last_text = ?, updated_at = ? WHERE id = ?",
        (
            decision.state,
            decision.reason,
            detail,
            decision.next_attempt_at,
            reply.code,
            reply.status,
            reply.text,
            now,
            recipient["id"],
        ),
    )
    add_event(
        conn,
        _EVENT[decision.state],
        shop=recipient["shop"],
        message=recipient["message"],
        recipient=recipient["id"],
        at=now,
        reply=str(reply),
        mx=attempt.mx_host,
        reason=decision.reason,
        next_attempt_at=decision.next_attempt_at,
    )
    if decision.block_address:
        add_block(
            conn,
            recipient["address"],
            decision.reason or "dead",
            f"delivery:{recipient['id']}",
            note=str(reply),
        )


def _detail(decision: Decision, reply: str) -> str | None:
    if decision.state == "delivered":
        return reply
    if decision.reason == "expired":
        return f"gave up at the end of the queue lifetime; last error: {reply}"
    return reply


def quarantine(conn: sqlite3.Connection, recipient_ids: list[int], trace: str) -> None:
    """A bug stopped a lane: park its rows with the traceback; `relay queue retry` frees them."""
    now = time.time()
    for rid in recipient_ids:
        row = conn.execute(
            "SELECT message FROM recipients WHERE id = ? AND state = 'inflight'", (rid,)
        ).fetchone()
        if row is None:
            continue
        conn.execute(
            "UPDATE recipients SET state = 'quarantined', detail = ?, claimed_by = NULL,"
            " updated_at = ? WHERE id = ?",
            (trace, now, rid),
        )
        add_event(
            conn,
            EventKind.QUARANTINED,
            message=row["message"],
            recipient=rid,
            at=now,
            traceback=trace[-2000:],
        )
