"""Idempotency keys of `POST /api/v1/messages`: the first answer, kept per shop for a while.

The key is written in the transaction that stores the message (relay.submit's `also` hook), so
a message and the record that it was sent for this key exist together or not at all: a crash
in between can neither send twice nor forget that it sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, changed, row


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    message: str
    status: int
    response: str  # JSON
    created_at: float


class KeyTaken(Exception):
    """Another request stored a message under this key first (the caller rolls back)."""


def find_answer(conn: Conn, shop: str, key: str, not_before: float) -> StoredAnswer | None:
    found: Any = row(
        conn,
        "SELECT fingerprint, message, status, response, created_at FROM idempotency_keys"
        " WHERE shop = ? AND key = ? AND created_at >= ?",
        (shop, key, not_before),
    )
    return StoredAnswer(**dict(found)) if found else None


def keep_answer(
    tx: Tx, shop: str, key: str, answer: StoredAnswer, *, expired_before: float
) -> None:
    """Record the answer; an expired record of the key is replaced. KeyTaken when a live one
    exists (a concurrent request with the same key committed first)."""
    stored = changed(
        tx,
        "INSERT INTO idempotency_keys (shop, key, fingerprint, message, status, response,"
        " created_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (shop, key) DO UPDATE SET"
        " fingerprint = excluded.fingerprint, message = excluded.message,"
        " status = excluded.status, response = excluded.response,"
        " created_at = excluded.created_at WHERE idempotency_keys.created_at < ?",
        (
            shop,
            key,
            answer.fingerprint,
            answer.message,
            answer.status,
            answer.response,
            answer.created_at,
            expired_before,
        ),
    )
    if not stored:
        raise KeyTaken(key)


def forget_expired(tx: Tx, before: float) -> int:
    return changed(tx, "DELETE FROM idempotency_keys WHERE created_at < ?", (before,))
