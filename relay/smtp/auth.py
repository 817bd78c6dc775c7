"""SMTP AUTH (RFC 4954) for shops: the credential check, behind a throttle nobody walks around.

The throttle (relay.store.auth) counts failed logins per client address and shop name tried,
shared by every worker through the database. Each attempt takes its place in its address's line
before the password is checked; checks from one address run one at a time, each starting
`submission.auth_failure_delay` after the one before it ended, doubled per failure of the
address (at most 30 s): ten parallel sessions guess no faster than one, and a shop that opens
ten connections at once (no failures) waits only for the checks themselves. An attempt that
would wait more than a minute is answered `454 4.7.0`, unchecked (after a pause of a few
seconds, so that refusals cannot be had as fast as a client asks).

A success clears the failures of that shop name from that address, and nothing else: it proves
the address knows that shop's password, so those failures were its own typos, while its
failures against any other shop name keep counting (a shop logging in between guesses at
another shop's password resets nothing). An unknown shop name is counted and checked like a
known one (the same scrypt: the time of the answer does not tell which names exist). Without
the throttle's database (a full disk) nothing is checked: `454 4.7.0`.

Each failure is one log line a fail2ban filter reads (relay.logs.auth_failure,
contrib/fail2ban/relay.conf): the client address, the mechanism and the shop name tried,
quoted, never the password.

The password check (scrypt, ~50 ms of CPU) runs in a thread, so a burst of AUTH attempts never
stalls the other sessions of a worker; hashlib releases the GIL while it computes. A pair that
was verified before in this process is known without scrypt (relay.passwords).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiosmtpd.smtp import AuthResult, LoginPassword

from relay import logs
from relay.passwords import remembered, verify_password
from relay.smtp import replies
from relay.smtp.admission import client_key
from relay.store.auth import (
    Throttle,
    drop_attempt,
    expected_turn,
    finish_attempt,
    next_turn,
    queue_attempt,
    start_attempt,
)
from relay.store.db import Read, Write
from relay.store.errors import StoreError
from relay.store.shops import get_shop

log = logging.getLogger(__name__)

# Checked in place of a shop that does not exist (see _check): the scrypt hash of a random
# password nobody knows, made once by hand (hashing at start-up would cost each worker scrypt's
# 16 MiB and ~50 ms before it serves anything).
_NO_SHOP = "scrypt$16384$8$1$VcXfKH+XGza/UgBZzdJDhw==$pfdJd3AtPVI1f5NozKpDpzG19h3bObvX0jLx5fFmIYA="
_POLL = 0.02  # how often a waiting attempt looks whether the checks before it have ended
_NAME_KEPT = 100  # characters of a shop name tried that are counted and logged
_REFUSAL_PAUSE = 5.0  # seconds a refusal (454) is held at most


class Throttled(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


class ShopAuthenticator:
    """Checks LoginPassword credentials; a success carries the shop's name as auth_data."""

    def __init__(self, read: Read, write: Write, base_delay: float) -> None:
        self._read, self._write = read, write
        self.throttle = Throttle(base=base_delay)
        self._pending: set[asyncio.Task] = set()

    async def authenticate(
        self, peer: object, credentials: LoginPassword, mechanism: str
    ) -> AuthResult:
        """Called once the credentials are decoded (PLAIN or LOGIN, `mechanism`)."""
        try:
            return await self._authenticate(peer, credentials, mechanism)
        except StoreError as error:
            # No throttle, no check: closed, not open (a full disk must not lift the limit).
            log.error("AUTH not checked: the throttle's database failed: %s", error)
            return AuthResult(success=False, handled=False, message=replies.AUTH_UNAVAILABLE)

    async def _authenticate(
        self, peer: object, credentials: LoginPassword, mechanism: str
    ) -> AuthResult:
        address, client = _peer_ip(peer), client_key(_peer_ip(peer))
        name = _name_tried(credentials.login)
        try:
            attempt = await self._wait_turn(client)
        except Throttled as throttled:
            logs.auth_failure(address, mechanism, name, refused_for=throttled.wait)
            # Held a while: a client that asks again at once must not get refusals (and log
            # lines) as fast as it can send.
            await asyncio.sleep(min(throttled.wait, _REFUSAL_PAUSE))
            return AuthResult(success=False, handled=False, message=_throttled(throttled.wait))
        failed: bool | None = None  # None until the client can hear the answer
        try:
            shop_name = await self._check(credentials.login, credentials.password)
            failed = shop_name is None
        finally:
            # Ended before the reply goes out: the client's next attempt sees it.
            await self._finish(client, name, attempt, failed)
        if shop_name is None:
            logs.auth_failure(address, mechanism, name)
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=shop_name)

    async def throttled(
        self, address: str, target: str, check: Callable[[], Awaitable[bool]]
    ) -> bool:
        """Any other credential check behind the same throttle (the shop console's log-in):
        waits for the address's turn (Throttled when that would pass the horizon), runs
        `check`, and counts its failure for (address, `target`) as AUTH counts a shop name."""
        client = client_key(address)
        attempt = await self._wait_turn(client)
        failed: bool | None = None
        try:
            failed = not await check()
        finally:
            await self._finish(client, target[:_NAME_KEPT], attempt, failed)
        return not failed

    async def _wait_turn(self, client: str) -> int:
        """The attempt's place in its address's line, once its check may start."""
        throttle = self.throttle
        now = time.time()
        expected = expected_turn(self._read(), client, throttle, now)
        if expected - now > throttle.horizon:
            raise Throttled(expected - now)
        turn = await self._write(lambda tx: queue_attempt(tx, client, throttle))
        if turn.attempt is None:
            raise Throttled(turn.at - time.time())
        attempt: int = turn.attempt
        give_up = time.time() + throttle.horizon
        started = turn.started
        try:
            while not started:
                now = time.time()
                at = next_turn(self._read(), client, attempt, throttle, now)
                if at > give_up:
                    raise Throttled(at - now)
                if at > now:
                    await asyncio.sleep(self._pause(at - now))
                    continue
                started = await self._write(
                    lambda tx: start_attempt(tx, client, attempt, throttle, time.time())
                )
                if not started:  # another attempt went first: look again shortly
                    await asyncio.sleep(_POLL)
        except BaseException:  # refused, or the session ended while it waited
            self._later(lambda tx: drop_attempt(tx, attempt))
            raise
        return attempt

    def _pause(self, wait: float) -> float:
        """How long to sleep before looking again. A wait of about one base delay is a check
        still running from an address without failures (a shop's parallel logins): look
        often, it may end any moment. From an address with failures the wait is two base
        delays or more: sleep it, looking again each second (the check ahead may end, an
        attempt ahead may leave the line)."""
        return min(wait, _POLL if wait < 1.5 * self.throttle.base else 1.0)

    async def _finish(self, client: str, name: str, attempt: int, failed: bool | None) -> None:
        """The check ended. A failure is written before the answer goes out (the client's next
        attempt must find it counted, even after a crash); a success, or a session that ended,
        without waiting: until it is written the check counts as running, so the next attempt
        from the address waits a moment at most, and the shop has its 235 a commit sooner."""
        ended = time.time()  # the check's end, not the commit's: the next one counts from it

        def job(tx):  # type: ignore[no-untyped-def]
            finish_attempt(tx, client, name, attempt, failed, ended)

        if failed:
            await self._write(job)
        else:
            self._later(job)

    def _later(self, job) -> None:  # type: ignore[no-untyped-def]
        """Write without waiting (from a cancelled session); a failure is logged, not lost
        in a task nobody awaits (the row expires with `Throttle.stale_after` anyway)."""
        task = asyncio.ensure_future(self._write(job))
        self._pending.add(task)
        task.add_done_callback(_log_failure)
        task.add_done_callback(self._pending.discard)

    async def _check(self, login: bytes, password: bytes) -> str | None:
        try:
            name, secret = login.decode(), password.decode()
        except UnicodeDecodeError:
            name, secret = "", ""
        shop = get_shop(self._read(), name) if name else None
        # An unknown shop name costs the same scrypt as a wrong password, so the time of the
        # answer does not tell which shop names exist.
        stored = shop.password_hash if shop else _NO_SHOP
        if remembered(secret, stored):
            ok = True
        else:
            ok = await asyncio.to_thread(verify_password, secret, stored)
        return shop.name if shop and ok else None


def _log_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("AUTH throttle: a late write failed: %s", task.exception())


def _throttled(wait: float) -> str:
    return replies.AUTH_THROTTLED.format(seconds=max(1, round(wait)))


def _name_tried(login: bytes) -> str:
    return login.decode("utf-8", "backslashreplace")[:_NAME_KEPT]


def _peer_ip(peer: object) -> str:
    return peer[0] if isinstance(peer, tuple) and peer else str(peer)
