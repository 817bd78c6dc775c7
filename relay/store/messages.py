"""Writing accepted messages, and reading the history back."""

import hashlib
from typing import Any

from relay.model import INITIAL, EventKind, MessageToStore, RecipientPlan, State
from relay.store import hooks
from relay.store.events import add_event
from relay.store.sql import Conn, Tx, insert, insert_large, row, rows, run_many

_STATE_EVENT = {State.SUPPRESSED: EventKind.SUPPRESSED, State.FAILED: EventKind.FAILED}


def insert_message(tx: Tx, p: MessageToStore, mail_from: str, client: str) -> None:
    """The message, one row per recipient and the first events: one transaction (the caller's).
    The hot path of submission: one statement per row, nothing read back."""
    insert_large(
        tx,
        "INSERT INTO messages (id, shop, order_ref, kind, subject, header_from, message_id,"
        " identity, dkim_domain, mail_from, client, size, body, body_sha256, template, test,"
        " created_at, return_path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,{blob},?,?,?,?,?)",
        [
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
            p.body,
            hashlib.sha256(p.body).hexdigest(),
            p.template,
            int(p.test),
            p.created_at,
            p.return_path,
        ],
        12,
        "messages",
        "body",
    )
    add_event(
        tx,
        EventKind.ACCEPTED,
        shop=p.shop,
        message=p.id,
        at=p.created_at,
        recipients=len(p.recipients),
        identity=p.identity.kind,
    )
    if p.identity.warning:
        add_event(
            tx,
            EventKind.WARNING,
            shop=p.shop,
            message=p.id,
            at=p.created_at,
            reason="fallback-identity",
            text=p.identity.warning,
        )
    for plan in p.recipients:
        _insert_recipient(tx, p, plan)
    if hooks.observed():
        hooks.tell(tx, "accepted", p.shop, p.kind.name)
        for plan in p.recipients:
            if plan.state != State.QUEUED:
                hooks.tell(tx, str(plan.state), p.shop, p.kind.name)
    if p.mailto_tokens:
        run_many(
            tx,
            "INSERT INTO unsubscribe_mailto (token, shop, address, kind) VALUES (?,?,?,?)"
            " ON CONFLICT (token) DO NOTHING",
            [(tok, t.shop, t.address, t.kind) for tok, t in p.mailto_tokens],
        )


def _insert_recipient(tx: Tx, p: MessageToStore, plan: RecipientPlan) -> None:
    if plan.state not in INITIAL:
        raise ValueError(f"a recipient cannot start as {plan.state!r}")
    recipient = insert(
        tx,
        "INSERT INTO recipients (message, address, domain, state, reason, detail, prefix,"
        " next_attempt_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            p.id,
            plan.address,
            plan.domain,
            str(plan.state),
            plan.reason,
            plan.detail,
            plan.prefix,
            p.created_at if plan.state == State.QUEUED else None,
            p.created_at,
            p.created_at,
        ),
    )
    kind = _STATE_EVENT.get(plan.state)  # a StrEnum hashes as its value
    if kind is not None:
        add_event(
            tx,
            kind,
            shop=p.shop,
            message=p.id,
            recipient=recipient,
            at=p.created_at,
            reason=plan.reason,
            text=plan.detail,
        )
    for warning in plan.warnings:
        add_event(
            tx,
            EventKind.WARNING,
            shop=p.shop,
            message=p.id,
            recipient=recipient,
            at=p.created_at,
            reason="typo",
            text=warning,
        )


def load_body(conn: Conn, message: str) -> bytes:
    found = row(conn, "SELECT body FROM messages WHERE id = ?", (message,))
    return bytes(found["body"]) if found and found["body"] is not None else b""


def load_prefix(conn: Conn, recipient: int) -> bytes:
    found = row(conn, "SELECT prefix FROM recipients WHERE id = ?", (recipient,))
    return bytes(found["prefix"]) if found else b""


HISTORY_SQL = """
SELECT r.id AS recipient_id, r.address, r.state, r.reason, r.detail, r.attempts,
       r.next_attempt_at, r.last_code, r.last_status, r.last_text, r.updated_at,
       m.id AS message, m.shop, m.order_ref, m.kind, m.subject, m.identity, m.template,
       m.test, m.created_at,
       (SELECT a.mx_host FROM attempts a WHERE a.recipient = r.id
        ORDER BY a.id DESC LIMIT 1) AS last_mx_host
FROM recipients r JOIN messages m ON m.id = r.message
"""


def history(
    conn: Conn,
    shop: str | None = None,
    order: str | None = None,
    to: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    where, args = [], []
    for column, wanted in (("m.shop", shop), ("m.order_ref", order), ("r.state", status)):
        if wanted:
            where.append(f"{column} = ?")
            args.append(wanted)
    if to:
        # The domain is case-insensitive (RFC 5321 2.4), and so, in practice, is the local part.
        where.append("lower(r.address) = lower(?)")  # stored as written (migration 11's index)
        args.append(to.strip())
    sql = HISTORY_SQL + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY m.created_at DESC, r.id LIMIT ?"
    return [_booleans(dict(r)) for r in rows(conn, sql, (*args, limit))]


def _booleans(found: dict[str, Any]) -> dict[str, Any]:
    found["test"] = bool(found["test"])  # an INTEGER column in SQLite
    return found
