"""A receiving server that refuses a message and hangs up at once: the refusal is the result.

Some servers (and any server answering 421) close the connection right after their reply;
the client's RSET then fails. The refusal must still be recorded as this recipient's answer,
not turned into "connection lost" and sent again to the next MX.

In-process: a minimal SMTP server on a loopback port (a fake behind the delivery seam).
"""

from __future__ import annotations

import asyncio

from relay.delivery.client import ClientSettings, Envelope, deliver_batch
from relay.delivery.outcome import Attempt
from relay.delivery.routing import MxHost

SETTINGS = ClientSettings(
    helo_name="relay.example.net",
    port=0,
    connect_timeout=5,
    command_timeout=5,
    data_timeout=5,
    require_tls=False,
)


async def refuse_after_data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 mx.example.org ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-mx.example.org\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await reader.readuntil(b"\r\n.\r\n")
            writer.write(b"554 5.7.1 message refused as spam\r\n")
            await writer.drain()
            writer.close()  # and hang up, before any RSET
            return
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()


def test_a_refusal_followed_by_a_hang_up_is_recorded_as_the_refusal() -> None:
    async def main() -> list[Attempt]:
        server = await asyncio.start_server(refuse_after_data, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = ClientSettings(**{**SETTINGS.__dict__, "port": port})
        hosts = [
            MxHost("mx1.example.org", 10, ("127.0.0.1",)),
            MxHost("mx2.example.org", 20, ("127.0.0.1",)),
        ]
        envelope = Envelope(1, "b-1@bounces.example.net", "max@example.org", lambda: b"Hi\r\n")
        attempts: list[Attempt] = []

        async def report(_envelope: Envelope, attempt: Attempt) -> None:
            attempts.append(attempt)

        await deliver_batch(hosts, [envelope], settings, report)
        server.close()
        return attempts

    attempts = asyncio.run(main())
    assert [(a.reply.code, a.reply.status, a.mx_host) for a in attempts] == [
        (554, "5.7.1", "mx1.example.org")
    ]


async def refuse_the_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"554 5.7.1 mx.example.org: your network is blocked here\r\n")
    await writer.drain()
    writer.close()


def test_a_host_that_refuses_the_session_defers_instead_of_bouncing() -> None:
    """A 5xx greeting says nothing final about the recipient (a backup MX that blocks us, say):
    like Postfix's smtp_skip_5xx_greeting, the next MX is tried, then the try is deferred."""

    async def main() -> list[Attempt]:
        server = await asyncio.start_server(refuse_the_session, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = ClientSettings(**{**SETTINGS.__dict__, "port": port})
        hosts = [MxHost("mx1.example.org", 10, ("127.0.0.1",))]
        envelope = Envelope(1, "b-1@bounces.example.net", "max@example.org", lambda: b"Hi\r\n")
        attempts: list[Attempt] = []

        async def report(_envelope: Envelope, attempt: Attempt) -> None:
            attempts.append(attempt)

        await deliver_batch(hosts, [envelope], settings, report)
        server.close()
        return attempts

    [attempt] = asyncio.run(main())
    assert (attempt.reply.code, attempt.reply.status) == (451, "4.7.1")
    assert "mx1.example.org [127.0.0.1]: 554" in attempt.reply.text
    assert "network is blocked" in attempt.reply.text
