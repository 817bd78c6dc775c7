"""Opportunistic TLS that does not work never keeps the mail (RFC 7435).

An MX that announces STARTTLS but cannot do it gets the mail in clear, as Postfix
(`smtp_tls_security_level = may`) and KumoMTA (`opportunistic_tls_reconnect_on_failed_handshake`)
send it: after a `454 4.7.0 TLS not available` on the same session, after a failed handshake on
a new connection without STARTTLS, and the next sessions to that address skip the handshake
for a while. Where TLS is required (`delivery.require_tls`, a relayhost's AUTH) nothing goes in
clear: the mail is deferred.

The 454 case: the relay and a real Postfix whose TLS certificate file is missing. The failed
handshake: a small SMTP server on loopback that answers STARTTLS with 220 and then closes, or
sends bytes that are no TLS (a fake behind the delivery seam, `deliver_batch`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from relay.delivery.client import ClientSettings, Envelope, deliver_batch, loaded
from relay.delivery.outcome import Attempt
from relay.delivery.relayhost import Relayhost
from relay.delivery.routing import MxHost
from tests.harness import RelayProcess, submit
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

CUSTOMER = "tls-broken@shop-customers.example.com"


def test_mail_to_a_server_whose_starttls_fails_is_delivered_in_clear(
    tmp_path, nsd: NsdServer, make_postfix: Callable[..., PostfixRig]
) -> None:
    broken = make_postfix(
        main_cf={
            "smtpd_tls_cert_file": "/nonexistent.crt",
            "smtpd_tls_key_file": "/nonexistent.key",
        }
    )
    relay = RelayProcess(tmp_path / "relay", nsd.nameserver, broken.port).init()
    relay.add_shop()
    relay.start()
    try:
        qid = submit(relay, CUSTOMER, "X-Relay-Kind: payment-info")
        rows = relay.wait_state(CUSTOMER, {"delivered", "deferred", "bounced"}, timeout=60)
        assert rows[0]["status"] == "delivered", rows[0]["explanation"]
        assert broken.wait_for_messages(CUSTOMER)
        attempt = relay.json("message", "show", qid)["recipients"][0]["attempts_log"][0]
        assert attempt["tls"] == 0  # in clear, and the history says so
    finally:
        relay.stop()


def test_mail_to_a_server_that_requires_helo_is_delivered_over_tls(
    tmp_path, nsd: NsdServer, make_postfix: Callable[..., PostfixRig]
) -> None:
    """RFC 3207 4.2: after the handshake the client sends EHLO again; MAIL FROM first is
    `503 5.5.1 Error: send HELO/EHLO first` at a Postfix with `smtpd_helo_required = yes`
    (a common anti-spam setting), a permanent bounce of every message to that domain."""
    strict = make_postfix(main_cf={"smtpd_helo_required": "yes"})
    relay = RelayProcess(tmp_path / "relay", nsd.nameserver, strict.port).init()
    relay.add_shop()
    relay.start()
    try:
        qid = submit(relay, names.CUSTOMER, "X-Relay-Kind: payment-info")
        row = relay.wait_state(names.CUSTOMER, {"delivered", "deferred", "bounced"})[0]
        assert row["status"] == "delivered", row["explanation"]
        attempt = relay.json("message", "show", qid)["recipients"][0]["attempts_log"][0]
        assert attempt["tls"] == 1  # and it went over the encrypted session
    finally:
        relay.stop()


@dataclass
class BrokenTlsMx:
    """Offers STARTTLS; answers it with 220, then `handshake` ("close" or "garbage")."""

    handshake: str
    in_clear: bytes = b"250 ok\r\n"  # the answer to MAIL FROM on a session without TLS
    connections: int = 0
    starttls: int = 0
    messages: list[bytes] = field(default_factory=list)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 mx.example.org ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-mx.example.org\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
            elif verb == b"STAR":
                self.starttls += 1
                writer.write(b"220 2.0.0 Ready to start TLS\r\n")
                if self.handshake == "garbage":
                    await reader.read(1)  # the ClientHello has begun
                    writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\n" * 20)
                await writer.drain()
                writer.close()
                return
            elif verb == b"MAIL":
                writer.write(self.in_clear)
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                self.messages.append(await reader.readuntil(b"\r\n.\r\n"))
                writer.write(b"250 2.0.0 Ok: queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                writer.close()
                return
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()


Settings = Callable[[int], ClientSettings]  # the fake's port -> the client's settings


def opportunistic(port: int) -> ClientSettings:
    return ClientSettings("relay.example.net", port, 5, 5, 5, require_tls=False)


def tls_required(port: int) -> ClientSettings:
    return ClientSettings("relay.example.net", port, 5, 5, 5, require_tls=True)


def relayhost_with_auth(port: int) -> ClientSettings:
    relayhost = Relayhost("127.0.0.1", port, "encrypt", ("user", "secret"))
    return ClientSettings("relay.example.net", 25, 5, 5, 5, False, relayhost=relayhost)


def _deliver(
    mx: BrokenTlsMx, settings: Settings = opportunistic, sessions: int = 1
) -> tuple[list[list[Attempt]], ClientSettings]:
    """`sessions` deliveries of one message each, one after the other, with one client."""

    async def main() -> tuple[list[list[Attempt]], ClientSettings]:
        server = await asyncio.start_server(mx.session, "127.0.0.1", 0)
        client = settings(server.sockets[0].getsockname()[1])
        hosts = [MxHost("mx.example.org", 10, ("127.0.0.1",))]
        results: list[list[Attempt]] = []
        for n in range(sessions):
            attempts: list[Attempt] = []

            async def report(_envelope: Envelope, attempt: Attempt, into=attempts) -> None:
                into.append(attempt)

            envelope = Envelope(n, "b-1@bounces.example.net", "max@example.org", loaded(b"Hi\r\n"))
            await deliver_batch(hosts, [envelope], client, report)
            results.append(attempts)
        server.close()
        return results, client

    return asyncio.run(main())


@pytest.mark.parametrize("handshake", ["close", "garbage"])
def test_a_failed_handshake_sends_in_clear_and_the_next_session_skips_it(handshake: str) -> None:
    mx = BrokenTlsMx(handshake)
    (first, second), client = _deliver(mx, sessions=2)
    assert [(a.reply.code, a.tls) for a in first] == [(250, False)]
    assert [(a.reply.code, a.tls) for a in second] == [(250, False)]
    assert len(mx.messages) == 2
    # The failed handshake, then a connection in clear; the next session goes straight there.
    assert (mx.connections, mx.starttls) == (3, 1)
    assert client.no_tls.holds("127.0.0.1")


def test_an_address_is_tried_with_tls_again_after_a_while() -> None:
    mx = BrokenTlsMx("close")
    _, client = _deliver(mx)
    client.no_tls.ttl = 0.0  # what is remembered from now on is forgotten at once
    client.no_tls.remember("127.0.0.1")
    assert not client.no_tls.holds("127.0.0.1")


@pytest.mark.parametrize("settings", [tls_required, relayhost_with_auth])
def test_where_tls_is_required_nothing_goes_in_clear(settings: Settings) -> None:
    mx = BrokenTlsMx("close")
    (attempts,), client = _deliver(mx, settings)
    assert [a.reply.code for a in attempts] == [451], attempts
    assert "the TLS handshake failed" in attempts[0].reply.text, attempts
    assert mx.messages == [] and mx.connections == 1  # no second connection in clear
    assert not client.no_tls.holds("127.0.0.1")


def test_a_server_that_wants_tls_defers_the_mail_sent_in_clear_never_bounces_it() -> None:
    """Review: a passing handshake failure at an MX that requires TLS (Postfix
    `smtpd_tls_security_level = encrypt`) answered our fallback in clear with `530 5.7.0`,
    a permanent bounce of a correct address; it is a deferral, and TLS is tried again."""
    mx = BrokenTlsMx("close", in_clear=b"530 5.7.0 Must issue a STARTTLS command first\r\n")
    (attempts,), client = _deliver(mx)
    assert [(a.reply.code, a.reply.status) for a in attempts] == [(451, "4.7.0")], attempts
    assert "530 5.7.0 Must issue a STARTTLS command first" in attempts[0].reply.text
    assert mx.messages == []
    assert not client.no_tls.holds("127.0.0.1")  # the next try starts with STARTTLS again
