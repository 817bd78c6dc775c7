"""API tokens: stored as a SHA-256 hash only (relay.actions.tokens makes and checks them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, changed, execute, row, rows


@dataclass(frozen=True)
class StoredToken:
    id: str  # the public part: tells the tokens of a shop apart (list, revoke, logs)
    shop: str
    name: str
    hash: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


def _token(found: Any) -> StoredToken:
    return StoredToken(**{k: found[k] for k in StoredToken.__dataclass_fields__})


def insert_token(tx: Tx, token: StoredToken) -> None:
    execute(
        tx,
        "INSERT INTO api_tokens (id, shop, name, hash, created_at) VALUES (?,?,?,?,?)",
        (token.id, token.shop, token.name, token.hash, token.created_at),
    )


def find_token(conn: Conn, token_id: str) -> StoredToken | None:
    found = row(conn, "SELECT * FROM api_tokens WHERE id = ?", (token_id,))
    return _token(found) if found else None


def shop_tokens(conn: Conn, shop: str) -> list[StoredToken]:
    found = rows(conn, "SELECT * FROM api_tokens WHERE shop = ? ORDER BY created_at", (shop,))
    return [_token(r) for r in found]


def revoke_token(tx: Tx, shop: str, token_id: str, now: float) -> bool:
    """False when the shop has no such token, or it was revoked already."""
    return bool(
        changed(
            tx,
            "UPDATE api_tokens SET revoked_at = ? WHERE shop = ? AND id = ? AND revoked_at IS NULL",
            (now, shop, token_id),
        )
    )


def touch_token(tx: Tx, token_id: str, now: float) -> None:
    execute(tx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
