"""Reading history in batches: messages with their recipients, attempts and events, a few
statements per page however many messages it holds (relay.history builds the views)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from relay.store.sql import Conn, marks, row, rows

# Every column but the body (read only for one message, on request).
MESSAGE_COLUMNS = (
    "id",
    "shop",
    "order_ref",
    "kind",
    "subject",
    "header_from",
    "message_id",
    "identity",
    "dkim_domain",
    "mail_from",
    "client",
    "size",
    "body_sha256",
    "template",
    "test",
    "created_at",
    "body_dropped_at",
)
_MESSAGE = "SELECT " + ", ".join(f"m.{c}" for c in MESSAGE_COLUMNS) + " FROM messages m"


def messages_by_id(conn: Conn, ids: list[str], shop: str | None = None) -> list[dict[str, Any]]:
    if not ids:
        return []
    sql, args = _MESSAGE + f" WHERE m.id IN ({marks(len(ids))})", list(ids)
    if shop is not None:
        sql, args = sql + " AND m.shop = ?", [*args, shop]
    return [dict(r) for r in rows(conn, sql + " ORDER BY m.created_at, m.id", args)]


def order_messages(conn: Conn, shop: str, order: str, limit: int = 200) -> list[dict[str, Any]]:
    found = rows(
        conn,
        _MESSAGE + " WHERE m.shop = ? AND m.order_ref = ? ORDER BY m.created_at, m.id LIMIT ?",
        (shop, order, limit),
    )
    return [dict(r) for r in found]


def message_body(conn: Conn, message: str) -> bytes | None:
    found = row(conn, "SELECT body FROM messages WHERE id = ?", (message,))
    return None if found is None or found["body"] is None else bytes(found["body"])


def recipients_of(conn: Conn, messages: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if messages:
        found = rows(
            conn,
            f"SELECT * FROM recipients WHERE message IN ({marks(len(messages))}) ORDER BY id",
            messages,
        )
        for r in found:
            out[r["message"]].append(dict(r))
    return out


def attempts_of(conn: Conn, recipients: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if recipients:
        found = rows(
            conn,
            f"SELECT * FROM attempts WHERE recipient IN ({marks(len(recipients))}) ORDER BY id",
            recipients,
        )
        for r in found:
            out[r["recipient"]].append(dict(r))
    return out


def events_of(conn: Conn, messages: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if messages:
        found = rows(
            conn,
            f"SELECT * FROM events WHERE message IN ({marks(len(messages))}) ORDER BY id",
            messages,
        )
        for r in found:
            out[r["message"]].append({**dict(r), "detail": json.loads(r["detail"])})
    return out
