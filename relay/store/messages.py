"""Writing accepted messages, and reading the history back."""

import hashlib
import sqlite3
from typing import Any

from relay.prepare.pipeline import Prepared
from relay.store.events import EventKind, add_event

_STATE_EVENT = {"suppressed": EventKind.SUPPRESSED, "failed": EventKind.FAILED}
# A body bound as a parameter is copied by SQLite and the copy stays with the cached statement
# until its next use (25 MB per writer, for good); above this it is written in place instead.
_WRITE_IN_PLACE = 1 << 20
_BLOB_PIECE = 1 << 20


def insert_prepared(conn: sqlite3.Connection, p: Prepared, mail_from: str, client: str) -> None:
    """The message, one row per recipient and the first events: one transaction (the caller's)."""
    in_place = len(p.body) > _WRITE_IN_PLACE
    cur = conn.execute(
        "INSERT INTO messages (id, shop, order_ref, kind, subject, header_from, message_id,"
        " identity, dkim_domain, mail_from, client, size, body, body_sha256, created_at)"
        f" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,{'zeroblob(?)' if in_place else '?'},?,?)",
        (
            p.id,
            p.shop,
            p.order_ref,
            p.kind.name,
            p.subject,
            p.identity.header_from,
            p.message_id,
            p.identity.kind,
            p.identity.dkim_domain,
            mail_from,
            client,
            len(p.body),
            len(p.body) if in_place else p.body,
            hashlib.sha256(p.body).hexdigest(),
            p.created_at,
        ),
    )
    if in_place:
        assert cur.lastrowid is not None
        body = memoryview(p.body)
        with conn.blobopen("messages", "body", cur.lastrowid) as blob:
            for start in range(0, len(body), _BLOB_PIECE):
                blob.write(body[start : start + _BLOB_PIECE])
    add_event(
        conn,
        EventKind.ACCEPTED,
        shop=p.shop,
        message=p.id,
        at=p.created_at,
        recipients=len(p.recipients),
        identity=p.identity.kind,
    )
    if p.identity.warning:
        add_event(
            conn,
            EventKind.WARNING,
            shop=p.shop,
            message=p.id,
            at=p.created_at,
            reason="fallback-identity",
            text=p.identity.warning,
        )
    for plan in p.recipients:
        _insert_recipient(conn, p, plan)
    conn.executemany(
        "INSERT OR IGNORE INTO unsubscribe_mailto (token, shop, address, kind) VALUES (?,?,?,?)",
        [(tok, t.shop, t.address, t.kind) for tok, t in p.mailto_tokens],
    )


def _insert_recipient(conn: sqlite3.Connection, p: Prepared, plan: Any) -> None:
    cur = conn.execute(
        "INSERT INTO recipients (message, address, domain, state, reason, detail, prefix,"
        " next_attempt_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            p.id,
            plan.address,
            plan.domain,
            plan.state,
            plan.reason,
            plan.detail,
            plan.prefix,
            p.created_at if plan.state == "queued" else None,
            p.created_at,
            p.created_at,
        ),
    )
    if plan.state in _STATE_EVENT:
        add_event(
            conn,
            _STATE_EVENT[plan.state],
            shop=p.shop,
            message=p.id,
            recipient=cur.lastrowid,
            at=p.created_at,
            reason=plan.reason,
            text=plan.detail,
        )
    for warning in plan.warnings:
        add_event(
            conn,
            EventKind.WARNING,
            shop=p.shop,
            message=p.id,
            recipient=cur.lastrowid,
            at=p.created_at,
            reason="typo",
            text=warning,
        )


HISTORY_SQL = """
SELECT r.id AS recipient_id, r.address, r.state, r.reason, r.detail, r.attempts,
       r.next_attempt_at, r.last_code, r.last_status, r.last_text, r.updated_at,
       m.id AS message, m.shop, m.order_ref, m.kind, m.subject, m.identity, m.created_at
FROM recipients r JOIN messages m ON m.id = r.message
"""


def history(
    conn: sqlite3.Connection,
    shop: str | None = None,
    order: str | None = None,
    to: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    where, args = [], []
    for column, value in (("m.shop", shop), ("m.order_ref", order), ("r.state", status)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if to:
        where.append("r.address = ?")
        args.append(to.lower())
    sql = HISTORY_SQL + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY m.created_at DESC, r.id LIMIT ?"
    return [dict(row) for row in conn.execute(sql, (*args, limit))]


def get_message(conn: sqlite3.Connection, message_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        return None
    message = dict(row)
    message["recipients"] = [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM recipients WHERE message = ? ORDER BY id", (message_id,)
        )
    ]
    for rcpt in message["recipients"]:
        rcpt["attempts_log"] = [
            dict(a)
            for a in conn.execute(
                "SELECT * FROM attempts WHERE recipient = ? ORDER BY id", (rcpt["id"],)
            )
        ]
    return message


def state_counts(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT state, count(*) AS n FROM recipients GROUP BY state")
    return {r["state"]: r["n"] for r in rows}
