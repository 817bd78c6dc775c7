"""SMTP AUTH (RFC 4954) for shops: credential check and a growing delay after failures.

Failures per client address live in the database, so every worker of `relay serve` sees them
(with SO_REUSEPORT, consecutive connections of one client land on different workers).
"""

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

from relay.passwords import verify_password
from relay.store.shops import Shop, get_shop

_MAX_DELAY = 30.0
_FORGET_AFTER = 900.0  # a quiet quarter hour wipes an address's failure count
Write = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]


class ShopAuthenticator:
    """aiosmtpd authenticator: LoginPassword -> AuthResult(auth_data=shop name)."""

    def __init__(
        self, read: Callable[[], sqlite3.Connection], write: Write, base_delay: float
    ) -> None:
        self._read, self._write = read, write
        self._base_delay = base_delay
        self._pending: set[asyncio.Task] = set()

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        shop = self._check(auth_data.login, auth_data.password)
        peer = _peer_ip(session.peer)
        # aiosmtpd calls authenticators synchronously: record in the background (the writer
        # commits within milliseconds, long before the client's next attempt).
        self._record(peer, failed=shop is None)
        if shop is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=shop.name)

    def _check(self, login: bytes, password: bytes) -> Shop | None:
        try:
            name, secret = login.decode(), password.decode()
        except UnicodeDecodeError:
            return None
        shop = get_shop(self._read(), name)
        if shop is None or not verify_password(secret, shop.password_hash):
            return None
        return shop

    def _record(self, peer: str, failed: bool) -> None:
        if not failed and not self._has_failures(peer):
            return
        task = asyncio.get_running_loop().create_task(
            self._write(lambda c: _store_failure(c, peer, failed))
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _has_failures(self, peer: str) -> bool:
        row = self._read().execute("SELECT 1 FROM auth_failures WHERE ip = ?", (peer,)).fetchone()
        return row is not None

    def delay_for(self, peer: object) -> float:
        """Seconds to wait before the next AUTH from this address: 0, base, 2*base, ..."""
        row = (
            self._read()
            .execute("SELECT count, last FROM auth_failures WHERE ip = ?", (_peer_ip(peer),))
            .fetchone()
        )
        if row is None or time.time() - row[1] > _FORGET_AFTER:
            return 0.0
        return min(_MAX_DELAY, self._base_delay * 2 ** (row[0] - 1))

    async def before_auth(self, server) -> None:  # type: ignore[no-untyped-def]
        delay = self.delay_for(server.session.peer)
        if delay:
            await asyncio.sleep(delay)


def _store_failure(conn: sqlite3.Connection, peer: str, failed: bool) -> None:
    if not failed:
        conn.execute("DELETE FROM auth_failures WHERE ip = ?", (peer,))
        return
    conn.execute(
        "INSERT INTO auth_failures (ip, count, last) VALUES (?, 1, ?) ON CONFLICT (ip) DO UPDATE"
        " SET count = CASE WHEN ? - last > ? THEN 1 ELSE count + 1 END, last = excluded.last",
        (peer, time.time(), time.time(), _FORGET_AFTER),
    )


def _peer_ip(peer: object) -> str:
    return peer[0] if isinstance(peer, tuple) and peer else str(peer)
