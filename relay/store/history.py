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
        _MESSAGE + " WHERE m.shop = ? AND m.order_ref = ? AND m.test = 0"  # tests: in no order
        " ORDER BY m.created_at, m.id LIMIT ?",
        (shop, order, limit),
    )
    return [dict(r) for r in found]


def message_body(conn: Conn, message: str) -> bytes | None:
    found = row(conn, "SELECT body FROM messages WHERE id = ?", (message,))
    return None if found is None or found["body"] is None else bytes(found["body"])


def _grouped(conn: Conn, table: str, key: str, ids: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    """Rows of `table` whose `key` is one of `ids`, by that key, in insertion order."""
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        sql = f"SELECT * FROM {table} WHERE {key} IN ({marks(len(ids))}) ORDER BY id"
        for r in rows(conn, sql, ids):
            out[r[key]].append(dict(r))
    return out


def recipients_of(conn: Conn, messages: list[str]) -> dict[str, list[dict[str, Any]]]:
    return _grouped(conn, "recipients", "message", messages)


def attempts_of(conn: Conn, recipients: list[int]) -> dict[int, list[dict[str, Any]]]:
    return _grouped(conn, "attempts", "recipient", recipients)


def events_of(conn: Conn, messages: list[str]) -> dict[str, list[dict[str, Any]]]:
    out = _grouped(conn, "events", "message", messages)
    for found in out.values():
        for event in found:
            event["detail"] = json.loads(event["detail"])
    return out
