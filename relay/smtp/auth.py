"""SMTP AUTH (RFC 4954) for shops: credential check and a growing delay after failures."""

import asyncio
import sqlite3
import time
from collections.abc import Callable

from aiosmtpd.smtp import AuthResult, LoginPassword

from relay.passwords import verify_password
from relay.store.shops import Shop, get_shop

_MAX_DELAY = 30.0
_FORGET_AFTER = 900.0  # a quiet quarter hour wipes an address's failure count


class ShopAuthenticator:
    """aiosmtpd authenticator: LoginPassword -> AuthResult(auth_data=shop name)."""

    def __init__(self, read: Callable[[], sqlite3.Connection], base_delay: float) -> None:
        self._read = read
        self._base_delay = base_delay
        self._failures: dict[str, tuple[int, float]] = {}

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        shop = self._check(auth_data.login, auth_data.password)
        peer = _peer_ip(session.peer)
        if shop is None:
            count, _ = self._failures.get(peer, (0, 0.0))
            self._failures[peer] = (count + 1, time.monotonic())
            return AuthResult(success=False, handled=False)
        self._failures.pop(peer, None)
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

    def delay_for(self, peer: object) -> float:
        """Seconds to wait before the next AUTH from this address: 0, base, 2*base, ..."""
        count, last = self._failures.get(_peer_ip(peer), (0, 0.0))
        if count == 0 or time.monotonic() - last > _FORGET_AFTER:
            return 0.0
        return min(_MAX_DELAY, self._base_delay * 2 ** (count - 1))

    async def before_auth(self, server) -> None:  # type: ignore[no-untyped-def]
        delay = self.delay_for(server.session.peer)
        if delay:
            await asyncio.sleep(delay)


def _peer_ip(peer: object) -> str:
    return peer[0] if isinstance(peer, tuple) and peer else str(peer)
