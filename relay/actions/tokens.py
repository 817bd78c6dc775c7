"""API tokens: `relay shop token create|list|revoke` and the API's Bearer check.

A token is `rly_<id>_<secret>`: `id` (8 characters, public) tells a shop's tokens apart in
lists, logs and revocations; `secret` is 32 random bytes (256 bits, base64url). Only the
SHA-256 of the whole token is stored: with that much entropy a fast hash is what GitHub and
Stripe use too (a slow password hash guards guessable secrets, and costs every request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from relay.actions.errors import ActionError, NotFound
from relay.model import Shop
from relay.store import tokens as store
from relay.store.db import Write
from relay.store.shops import get_shop
from relay.store.sql import Conn

PREFIX = "rly_"
# rly_ + 8 base32 (lower-case) + _ + 43 base64url: what `create_token` makes, nothing else.
TOKEN = re.compile(r"rly_([a-z2-7]{8})_([A-Za-z0-9_-]{43})")
MAX_NAME = 64
LAST_USED_EVERY = 60.0  # seconds: last_used_at is written at most this often per token


@dataclass(frozen=True)
class TokenInfo:
    id: str
    shop: str
    name: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "shop": self.shop,
            "name": self.name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
            "active": self.active,
        }


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once, never stored
    info: TokenInfo


def _info(stored: store.StoredToken) -> TokenInfo:
    return TokenInfo(
        stored.id,
        stored.shop,
        stored.name,
        stored.created_at,
        stored.last_used_at,
        stored.revoked_at,
    )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token_id = base64.b32encode(secrets.token_bytes(5)).decode().lower()
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def _known_shop(conn: Conn, shop: str) -> None:
    if get_shop(conn, shop) is None:
        raise NotFound(f"no shop {shop!r}; `relay shop list` shows the shops", "shop")


async def create_token(conn: Conn, write: Write, shop: str, name: str = "") -> NewToken:
    """A new token; `name` tells it apart (default: its id)."""
    _known_shop(conn, shop)
    token_id, token = _new_token()
    name = name.strip() or token_id
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ActionError(f"a token name is 1 to {MAX_NAME} printable characters", "name")
    if any(t.name == name and t.revoked_at is None for t in store.shop_tokens(conn, shop)):
        raise ActionError(f"shop {shop} has an active token named {name!r} already", "name")
    stored = store.StoredToken(token_id, shop, name, digest(token), time.time(), None, None)
    await write(lambda tx: store.insert_token(tx, stored))
    return NewToken(token, _info(stored))


def list_tokens(conn: Conn, shop: str) -> list[TokenInfo]:
    _known_shop(conn, shop)
    return [_info(t) for t in store.shop_tokens(conn, shop)]


async def revoke_token(conn: Conn, write: Write, shop: str, which: str) -> TokenInfo:
    """Revoke by id (or by the name of an active token); it stops working at once."""
    _known_shop(conn, shop)
    tokens = store.shop_tokens(conn, shop)
    found = next((t for t in tokens if t.id == which), None) or next(
        (t for t in tokens if t.name == which and t.revoked_at is None), None
    )
    if found is None:
        raise NotFound(
            f"shop {shop} has no token {which!r}; `relay shop token list {shop}` shows them",
            "token",
        )
    now = time.time()
    if not await write(lambda tx: store.revoke_token(tx, shop, found.id, now)):
        raise ActionError(f"token {found.id} of shop {shop} is revoked already", code="revoked")
    return _info(store.find_token(conn, found.id) or found)


def authenticate(
    conn: Conn, presented: str, find_shop: Callable[[str], Shop | None] | None = None
) -> TokenInfo | None:
    """The active token `presented` is, or None (unknown, revoked, malformed, or its shop was
    removed). Compared in constant time. `find_shop`: how to look the shop up (the API passes
    the submission path's cache; default: the store)."""
    match = TOKEN.fullmatch(presented)
    if match is None:
        return None
    stored = store.find_token(conn, match.group(1))
    if stored is None or stored.revoked_at is not None:
        return None
    if not hmac.compare_digest(stored.hash, digest(presented)):
        return None
    if (find_shop or (lambda name: get_shop(conn, name)))(stored.shop) is None:
        return None
    return _info(stored)


def touch_job(info: TokenInfo, now: float) -> Any:
    """The write that records a use, or None when the stored time is recent enough."""
    if info.last_used_at is not None and now - info.last_used_at < LAST_USED_EVERY:
        return None
    return lambda tx: store.touch_token(tx, info.id, now)


# Anything that starts like a token, however malformed, loses all but its public id in logs.
_LOOSE = re.compile(r"rly_[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """`text` with the secret part of every token replaced (access logs, error messages)."""
    return _LOOSE.sub(_loose, text)


def _loose(match: re.Match[str]) -> str:
    full = TOKEN.fullmatch(match.group(0))
    return f"{PREFIX}{full.group(1)}_<redacted>" if full else f"{PREFIX}<redacted>"
