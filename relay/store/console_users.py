"""Console users of a shop (`relay shop user add|list|remove`): people who log in to the shop
console besides the shop's own log-in. Passwords are stored as the SMTP passwords are (scrypt,
relay.passwords); removing a user or giving it a new password ends its sessions in the same
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, changed, execute, insert, row, rows


@dataclass(frozen=True)
class ConsoleUser:
    id: int
    shop: str
    email: str
    password_hash: str
    created_at: float
    last_login_at: float | None


def _user(found: Any) -> ConsoleUser:
    return ConsoleUser(**{k: found[k] for k in ConsoleUser.__dataclass_fields__})


def insert_user(tx: Tx, shop: str, email: str, password_hash: str, now: float) -> int:
    return insert(
        tx,
        "INSERT INTO console_users (shop, email, password_hash, created_at) VALUES (?,?,?,?)",
        (shop, email, password_hash, now),
    )


def find_user(conn: Conn, shop: str, email: str) -> ConsoleUser | None:
    found = row(conn, "SELECT * FROM console_users WHERE shop = ? AND email = ?", (shop, email))
    return _user(found) if found else None


def shop_users(conn: Conn, shop: str) -> list[ConsoleUser]:
    found = rows(conn, "SELECT * FROM console_users WHERE shop = ? ORDER BY email", (shop,))
    return [_user(r) for r in found]


def set_password(tx: Tx, user_id: int, password_hash: str) -> None:
    """A new password; the user's sessions end (whoever held the old one is out)."""
    execute(tx, "UPDATE console_users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
    execute(tx, "DELETE FROM console_sessions WHERE user_id = ?", (user_id,))


def delete_user(tx: Tx, user_id: int) -> bool:
    """Remove the user and end its sessions; False when it was gone already."""
    execute(tx, "DELETE FROM console_sessions WHERE user_id = ?", (user_id,))
    return bool(changed(tx, "DELETE FROM console_users WHERE id = ?", (user_id,)))


def record_login(tx: Tx, user_id: int, now: float) -> None:
    execute(tx, "UPDATE console_users SET last_login_at = ? WHERE id = ?", (now, user_id))
