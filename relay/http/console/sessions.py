"""Console sessions (OWASP Session Management): a server-side record per log-in, referenced by
a signed cookie that holds a random secret (the record's id is its SHA-256).

- Cookie: `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`; `Secure` with the `__Host-`
  prefix unless the console is plain HTTP on loopback (relay.http.console.deps). A session
  cookie (no Max-Age): closing the browser ends it on the client's side too.
- Idle expiry after IDLE_SECONDS without a request, absolute expiry ABSOLUTE_SECONDS after
  log-in; the last-seen time is written at most every TOUCH_EVERY seconds.
- A log-out deletes the record, so a copied cookie stops working at once; so do a removed
  shop or console user and a new password (relay.store.console_sessions).
- A new session at every log-in (no fixation); the CSRF token lives in the record.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from aiohttp import web

from relay.http.console.deps import ConsoleDeps, deps
from relay.store import console_sessions as store
from relay.store.errors import StoreError
from relay.store.sql import Tx

IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 3600
TOUCH_EVERY = 60.0
SESSION_COOKIE = "relay_console"
_SECRET_BYTES = 32
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Session:
    id: str
    shop: str
    user: str | None  # a console user's e-mail; None: the shop's own log-in
    csrf: str
    seen_at: float

    @property
    def who(self) -> str:
        """For acknowledgements and logs: `console:<shop>` or `console:<e-mail>`."""
        return f"console:{self.user or self.shop}"


SESSION = web.RequestKey("console_session", Session)


def cookie_name(base: str, secure: bool) -> str:
    # RFC 6265bis §4.1.3.2: a __Host- cookie must be Secure, Path=/ and have no Domain.
    return f"__Host-{base}" if secure else base


def sign(key: bytes, raw: bytes) -> str:
    mac = hmac.new(key, raw, hashlib.sha256).digest()
    return f"{_b64(raw)}.{_b64(mac)}"


def unsign(key: bytes, value: str) -> bytes | None:
    """The signed bytes, or None for anything that is not a cookie we made."""
    raw_text, _, mac_text = value.partition(".")
    raw, mac = _unb64(raw_text), _unb64(mac_text)
    if raw is None or mac is None or len(raw) != _SECRET_BYTES:
        return None
    expected = hmac.new(key, raw, hashlib.sha256).digest()
    return raw if hmac.compare_digest(mac, expected) else None


def set_cookie(response: web.StreamResponse, d: ConsoleDeps, base: str, value: str) -> None:
    response.set_cookie(
        cookie_name(base, d.secure),
        value,
        path="/",
        secure=d.secure,
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response: web.StreamResponse, d: ConsoleDeps, base: str) -> None:
    response.del_cookie(
        cookie_name(base, d.secure), path="/", secure=d.secure, httponly=True, samesite="Lax"
    )


def credential(password_hash: str) -> str:
    """What a session remembers of the password it logged in with (a new one ends it)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()


async def start(
    d: ConsoleDeps, shop: str, user_id: int | None, password_hash: str
) -> tuple[str, Session]:
    """A new session; (the cookie value, the session). Expired records are forgotten here."""
    raw = secrets.token_bytes(_SECRET_BYTES)
    now = time.time()
    stored = store.StoredSession(
        id=hashlib.sha256(raw).hexdigest(),
        shop=shop,
        user_id=user_id,
        user_email=None,
        credential=credential(password_hash),
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        seen_at=now,
        current_hash=password_hash,
    )

    def job(tx: Tx) -> None:
        store.delete_expired(tx, now - IDLE_SECONDS, now - ABSOLUTE_SECONDS)
        store.insert_session(tx, stored)

    await d.write(job)
    return sign(d.cookie_key, raw), Session(stored.id, shop, None, stored.csrf, now)


def session_id(request: web.Request) -> str | None:
    """The id of the session the request's cookie names (valid signature), or None."""
    d = deps(request)
    value = request.cookies.get(cookie_name(SESSION_COOKIE, d.secure))
    raw = unsign(d.cookie_key, value) if value else None
    return hashlib.sha256(raw).hexdigest() if raw is not None else None


async def current(request: web.Request) -> Session | None:
    """The request's live session, or None (no cookie, forged, logged out, expired, or its
    shop, user or password gone)."""
    found_id = session_id(request)
    if found_id is None:
        return None
    d = deps(request)
    stored = store.find_session(d.read(), found_id)
    now = time.time()
    if stored is None or not _alive(stored, now):
        return None
    if now - stored.seen_at >= TOUCH_EVERY:
        # A missed last-seen time shortens the session at worst.
        with contextlib.suppress(StoreError):
            await d.write(lambda tx: store.touch_session(tx, stored.id, now))
    return Session(stored.id, stored.shop, stored.user_email, stored.csrf, stored.seen_at)


def _alive(stored: store.StoredSession, now: float) -> bool:
    return (
        now - stored.seen_at < IDLE_SECONDS
        and now - stored.created_at < ABSOLUTE_SECONDS
        and hmac.compare_digest(stored.credential, credential(stored.current_hash))
    )


async def end(d: ConsoleDeps, found_id: str) -> None:
    await d.write(lambda tx: store.delete_session(tx, found_id))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes | None:
    if not text or len(text) > 100 or not _B64URL.fullmatch(text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
