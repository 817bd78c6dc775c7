"""Shop console sessions: server-side records, so that log-out, expiry, a removed shop or user
and a new password really end them (a cookie alone cannot be taken back).

The cookie holds a random secret; the row's id is its SHA-256, so reading this table opens no
session. `credential` is a digest of the password hash the session logged in with: a session
is valid only while the shop (or the console user) still has that hash, which ends it when the
password changes or the shop is removed (`relay shop remove` replaces the hash).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, changed, execute, row


@dataclass(frozen=True)
class StoredSession:
    id: str
    shop: str
    user_id: int | None
    user_email: str | None
    credential: str
    csrf: str
    created_at: float
    seen_at: float
    current_hash: str  # the password hash the shop (or the user) has now


def insert_session(tx: Tx, session: StoredSession) -> None:
    execute(
        tx,
        "INSERT INTO console_sessions (id, shop, user_id, credential, csrf, created_at, seen_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (
            session.id,
            session.shop,
            session.user_id,
            session.credential,
            session.csrf,
            session.created_at,
            session.seen_at,
        ),
    )


# A session of a removed shop finds no row (the join), one of a removed user no hash.
_FIND = """
SELECT s.*, u.email AS user_email,
       CASE WHEN s.user_id IS NULL THEN sh.password_hash ELSE u.password_hash END AS current_hash
FROM console_sessions s
JOIN shops sh ON sh.name = s.shop AND sh.removed_at IS NULL
LEFT JOIN console_users u ON u.id = s.user_id AND u.shop = s.shop
WHERE s.id = ?
"""


def find_session(conn: Conn, session_id: str) -> StoredSession | None:
    found: Any = row(conn, _FIND, (session_id,))
    if found is None or found["current_hash"] is None:
        return None
    return StoredSession(**{k: found[k] for k in StoredSession.__dataclass_fields__})


def touch_session(tx: Tx, session_id: str, now: float) -> None:
    execute(tx, "UPDATE console_sessions SET seen_at = ? WHERE id = ?", (now, session_id))


def delete_session(tx: Tx, session_id: str) -> bool:
    return bool(changed(tx, "DELETE FROM console_sessions WHERE id = ?", (session_id,)))


def delete_expired(tx: Tx, seen_before: float, created_before: float) -> int:
    """Forget sessions idle since `seen_before` or made before `created_before`."""
    return changed(
        tx,
        "DELETE FROM console_sessions WHERE seen_at < ? OR created_at < ?",
        (seen_before, created_before),
    )
