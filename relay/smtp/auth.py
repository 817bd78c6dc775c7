"""SMTP AUTH (RFC 4954) for shops: credential check and a growing delay after failures.

The password check (scrypt, ~50 ms of CPU) runs in a thread, so a burst of AUTH attempts never
stalls the other sessions of a worker; hashlib releases the GIL while it computes. A pair that
was verified before in this process is known without scrypt (relay.passwords).

Failures per client address live in the database, so every worker of `relay serve` sees them
(with SO_REUSEPORT, consecutive connections of one client land on different workers).
"""

import asyncio
import time

from aiosmtpd.smtp import AuthResult, LoginPassword

from relay.passwords import remembered, verify_password
from relay.store.auth import auth_failures, record_auth
from relay.store.db import Read, Write
from relay.store.shops import get_shop

# Checked in place of a shop that does not exist (see _check): the scrypt hash of a random
# password nobody knows, made once by hand (hashing at start-up would cost each worker scrypt's
# 16 MiB and ~50 ms before it serves anything).
_NO_SHOP = "scrypt$16384$8$1$VcXfKH+XGza/UgBZzdJDhw==$pfdJd3AtPVI1f5NozKpDpzG19h3bObvX0jLx5fFmIYA="
_MAX_DELAY = 30.0
_FORGET_AFTER = 900.0  # a quiet quarter hour wipes an address's failure count


class ShopAuthenticator:
    """Checks LoginPassword credentials; a success carries the shop's name as auth_data."""

    def __init__(self, read: Read, write: Write, base_delay: float) -> None:
        self._read, self._write = read, write
        self._base_delay = base_delay

    async def authenticate(self, peer: object, credentials: LoginPassword) -> AuthResult:
        """Called by RelaySMTP once aiosmtpd decoded the credentials (PLAIN or LOGIN)."""
        shop_name = await self._check(credentials.login, credentials.password)
        # Recorded before the reply goes out: the client's next attempt sees its delay.
        await self._record(_peer_ip(peer), failed=shop_name is None)
        if shop_name is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=shop_name)

    async def _check(self, login: bytes, password: bytes) -> str | None:
        try:
            name, secret = login.decode(), password.decode()
        except UnicodeDecodeError:
            return None
        shop = get_shop(self._read(), name)
        # An unknown shop name costs the same scrypt as a wrong password, so the time of the
        # answer does not tell which shop names exist.
        stored = shop.password_hash if shop else _NO_SHOP
        if remembered(secret, stored):
            ok = True
        else:
            ok = await asyncio.to_thread(verify_password, secret, stored)
        return shop.name if shop and ok else None

    async def _record(self, peer: str, failed: bool) -> None:
        if not failed and not self._has_failures(peer):
            return
        await self._write(lambda tx: record_auth(tx, peer, failed, _FORGET_AFTER))

    def _has_failures(self, peer: str) -> bool:
        return auth_failures(self._read(), peer) is not None

    def delay_for(self, peer: object) -> float:
        """Seconds to wait before the next AUTH from this address: 0, base, 2*base, ..."""
        found = auth_failures(self._read(), _peer_ip(peer))
        if found is None or time.time() - found[1] > _FORGET_AFTER:
            return 0.0
        return min(_MAX_DELAY, self._base_delay * 2 ** (found[0] - 1))

    async def before_auth(self, server) -> None:  # type: ignore[no-untyped-def]
        delay = self.delay_for(server.session.peer)
        if delay:
            await asyncio.sleep(delay)


def _peer_ip(peer: object) -> str:
    return peer[0] if isinstance(peer, tuple) and peer else str(peer)
