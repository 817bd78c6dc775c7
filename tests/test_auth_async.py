"""AUTH is checked off the event loop: while one client's password is being verified (scrypt,
~50 ms of CPU each), every other session of that worker is still answered.

In-process: our SMTP protocol on a loopback port, a real SMTP exchange over asyncio streams,
and an authenticator that holds its answer until the test releases it.
"""

from __future__ import annotations

import asyncio
import base64
import threading

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from relay.model import Shop
from relay.passwords import hash_password
from relay.smtp.admission import Admission, Limits
from relay.smtp.auth import ShopAuthenticator
from relay.smtp.data import DataPolicy
from relay.smtp.mechanisms import ShopMechanisms
from relay.smtp.protocol import HandlerBase, RelaySMTP
from relay.store.auth import failures
from relay.store.db import open_database
from relay.store.errors import StoreUnavailable
from relay.store.shops import insert_shop

# The test server skips TLS (auth_require_tls=False); aiosmtpd rightly warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class HeldAuthenticator:
    """Answers only when released; accepts shop / secret."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.seen: list[LoginPassword] = []
        self.mechanisms: list[str] = []

    async def authenticate(
        self, peer: object, credentials: LoginPassword, mechanism: str
    ) -> AuthResult:
        self.seen.append(credentials)
        self.mechanisms.append(mechanism)
        await self.release.wait()
        if credentials == LoginPassword(b"shop", b"secret"):
            return AuthResult(success=True, auth_data="shop")
        return AuthResult(success=False, handled=False)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        client = cls(*await asyncio.open_connection("127.0.0.1", port))
        assert (await client.reply()).startswith("220")
        assert "AUTH" in await client.cmd("EHLO client.example.org")
        return client

    async def reply(self) -> str:
        lines = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode()
            lines.append(line)
            if line[3:4] != "-":
                return "".join(lines)

    async def cmd(self, line: str) -> str:
        self.writer.write(line.encode() + b"\r\n")
        return await self.reply()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Handler(HandlerBase, ShopMechanisms):
    def __init__(self, authenticator: HeldAuthenticator) -> None:
        self.authenticator = authenticator


async def serve(authenticator: HeldAuthenticator) -> asyncio.base_events.Server:
    admission = Admission(Limits(10, 9, 9, auth_timeout=30))

    def factory() -> RelaySMTP:
        return RelaySMTP(
            Handler(authenticator),
            admission=admission,
            data=DataPolicy(None, None, True, None),
            auth_require_tls=False,  # loopback only, no certificate needed for this test
            auth_required=True,
        )

    return await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)


def with_held_server(test):  # type: ignore[no-untyped-def]
    """Run `test(authenticator, port)` in a fresh event loop with our protocol listening."""

    async def main() -> None:
        authenticator = HeldAuthenticator()
        server = await serve(authenticator)
        try:
            await test(authenticator, server.sockets[0].getsockname()[1])
        finally:
            server.close()

    asyncio.run(main())


def test_other_sessions_are_answered_while_a_login_is_checked() -> None:
    async def test(authenticator: HeldAuthenticator, port: int) -> None:
        waiting = await Client.connect(port)
        plain = b64("\0shop\0secret")
        waiting.writer.write(f"AUTH PLAIN {plain}\r\n".encode())
        answer = asyncio.ensure_future(waiting.reply())
        other = await Client.connect(port)  # EHLO answered while the check is held
        assert (await other.cmd("NOOP")).startswith("250")
        assert not answer.done()
        assert authenticator.seen == [LoginPassword(b"shop", b"secret")]
        assert authenticator.mechanisms == ["PLAIN"]
        authenticator.release.set()
        assert (await answer).startswith("235 2.7.0")
        await waiting.close()
        await other.close()

    with_held_server(test)


def test_login_mechanism_with_challenges_and_a_wrong_password() -> None:
    async def test(authenticator: HeldAuthenticator, port: int) -> None:
        authenticator.release.set()
        client = await Client.connect(port)
        assert (await client.cmd("AUTH LOGIN")).startswith("334")
        assert (await client.cmd(b64("shop"))).startswith("334")
        assert (await client.cmd(b64("wrong"))).startswith("535 5.7.8")
        assert authenticator.seen == [LoginPassword(b"shop", b"wrong")]
        assert authenticator.mechanisms == ["LOGIN"]
        assert (await client.cmd("AUTH PLAIN !!!")).startswith("501 5.5.2")  # not base64
        await client.close()

    with_held_server(test)


def test_the_password_hash_is_computed_outside_the_event_loop(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from relay.smtp import auth

    db = open_database("sqlite:///relay.db", tmp_path, create=True)
    shop = Shop(
        "shop",
        ("shop.example.com",),
        "info@shop.example.com",
        "Shop",
        "de",
        hash_password("secret"),
        "s1",
        "unused",
    )
    with db.transaction() as tx:
        insert_shop(tx, shop)
    threads: list[threading.Thread] = []
    real = auth.verify_password

    def recording(password: str, stored: str) -> bool:
        threads.append(threading.current_thread())
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", recording)

    async def write(job):  # type: ignore[no-untyped-def]
        with db.transaction() as tx:
            return job(tx)

    async def main() -> None:
        checker = ShopAuthenticator(db.read, write, 0.2)
        peer = ("127.0.0.1", 40000)
        ok = await checker.authenticate(peer, LoginPassword(b"shop", b"secret"), "PLAIN")
        assert ok.success and ok.auth_data == "shop"
        assert failures(db.read(), "127.0.0.1") == {}
        bad = await checker.authenticate(peer, LoginPassword(b"nobody", b"secret"), "PLAIN")
        assert not bad.success  # an unknown shop costs a hash check too (no timing oracle)
        assert failures(db.read(), "127.0.0.1") == {"nobody": 1}

    asyncio.run(main())
    assert len(threads) == 2
    assert all(t is not threading.main_thread() for t in threads)


def test_a_failing_throttle_store_refuses_the_login_unchecked(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Fail closed: without the throttle's database no password is checked (a full disk must
    not lift the limit), and the client hears a temporary failure."""
    from relay.smtp import auth

    checked: list[str] = []
    monkeypatch.setattr(auth, "verify_password", lambda password, stored: checked.append(password))

    async def write(job):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("database or disk is full")

    async def main() -> AuthResult:
        checker = ShopAuthenticator(lambda: None, write, 0.2)  # type: ignore[arg-type]
        monkeypatch.setattr(auth, "expected_turn", lambda *args: 0.0)
        return await checker.authenticate(("127.0.0.1", 1), LoginPassword(b"s", b"pw"), "PLAIN")

    result = asyncio.run(main())
    assert not result.success and result.message.startswith("454 4.7.0"), result
    assert checked == []
