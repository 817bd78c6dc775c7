"""A receiving server that refuses a message and hangs up at once: the refusal is the result,
and the hang-up costs only the transaction it happened in.

Some servers (and any server answering 421) close the connection right after their reply;
the client's RSET then fails. The refusal must still be recorded as this recipient's answer,
not turned into "connection lost" and sent again to the next MX. The rest of the batch goes on
over a new connection to the same host, as long as each connection gets further (Postfix gives
every delivery its own request).

A real Postfix as the MX (its 421 for one recipient), and in-process a minimal SMTP server on
a loopback port (a fake behind the delivery seam).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from relay.delivery.client import ClientSettings, Envelope, deliver_batch, loaded
from relay.delivery.outcome import Attempt
from relay.delivery.routing import MxHost
from tests.harness import RelayProcess, submit
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

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
        envelope = Envelope(1, "b-1@bounces.example.net", "max@example.org", loaded(b"Hi\r\n"))
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
        envelope = Envelope(1, "b-1@bounces.example.net", "max@example.org", loaded(b"Hi\r\n"))
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


HANGS_UP = "hangs-up@shop-customers.example.com"
OTHERS = [f"customer-{n}@shop-customers.example.com" for n in range(3)]


def test_other_recipients_are_tried_after_the_server_hangs_up_on_one(
    tmp_path, nsd: NsdServer, make_postfix: Callable[..., PostfixRig]
) -> None:
    mx = make_postfix()
    mx.settings.deferred[HANGS_UP] = "421 4.7.0 closing the connection"
    mx._write_tables()
    mx.restart()
    relay = RelayProcess(tmp_path / "relay", nsd.nameserver, mx.port).init()
    relay.add_shop()
    relay.start("--log-format", "text")
    try:
        qid = submit(relay, ",".join([HANGS_UP, *OTHERS]), "X-Relay-Kind: payment-info")
        for address in OTHERS:
            relay.wait_state(address, {"delivered"}, timeout=60)
        shown = relay.json("message", "show", qid)["recipients"]
        first_try = {r["address"]: r["attempts_log"][0]["text"] for r in shown}
        assert first_try[HANGS_UP].startswith("<hangs-up@")  # Postfix's own 421 words
        for address in OTHERS:
            # Their first attempt must be a real transaction, not the other one's hang-up.
            assert "connection lost" not in first_try[address], (address, first_try[address])
    finally:
        relay.stop()


class HangingUpMx:
    """Hangs up on `rcpt` (after 421 at RCPT, or in the middle of DATA); every connection
    after the first `hang_up_at_mail_after` also at once at MAIL (a server that gives up)."""

    def __init__(self, rcpt: str, during: str, hang_up_at_mail_after: int = 99) -> None:
        self.rcpt, self.during = rcpt.encode(), during
        self.hang_up_at_mail_after = hang_up_at_mail_after
        self.connections = 0
        self.delivered: list[bytes] = []

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 mx.example.org ESMTP\r\n")
        rcpt = b""
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"MAIL" and self.connections > self.hang_up_at_mail_after:
                break
            if verb == b"EHLO":
                writer.write(b"250-mx.example.org\r\n250 8BITMIME\r\n")
            elif verb == b"RCPT":
                rcpt = line[9:].strip().strip(b"<>")
                if rcpt == self.rcpt and self.during == "RCPT":
                    writer.write(b"421 4.7.0 mx.example.org closing the connection\r\n")
                    break
                writer.write(b"250 ok\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                if rcpt == self.rcpt and self.during == "DATA":
                    break  # gone before the data, as a crash of the receiving side
                await reader.readuntil(b"\r\n.\r\n")
                self.delivered.append(rcpt)
                writer.write(b"250 2.0.0 Ok: queued\r\n")
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        await writer.drain()
        writer.close()


def _deliver_batch(mx: HangingUpMx, recipients: list[str]) -> dict[str, Attempt]:
    async def main() -> dict[str, Attempt]:
        server = await asyncio.start_server(mx.session, "127.0.0.1", 0)
        settings = ClientSettings(
            **{**SETTINGS.__dict__, "port": server.sockets[0].getsockname()[1]}
        )
        hosts = [MxHost("mx.example.org", 10, ("127.0.0.1",))]
        envelopes = [
            Envelope(n, "b-1@bounces.example.net", rcpt, loaded(b"Hi\r\n"))
            for n, rcpt in enumerate(recipients)
        ]
        attempts: dict[str, Attempt] = {}

        async def report(envelope: Envelope, attempt: Attempt) -> None:
            attempts[envelope.rcpt_to] = attempt

        await deliver_batch(hosts, envelopes, settings, report)
        server.close()
        return attempts

    return asyncio.run(main())


BATCH = ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]


def test_a_421_costs_only_its_own_recipient() -> None:
    mx = HangingUpMx("b@example.org", during="RCPT")
    attempts = _deliver_batch(mx, BATCH)
    assert (attempts["b@example.org"].reply.code, mx.connections) == (421, 2)
    assert mx.delivered == [b"a@example.org", b"c@example.org", b"d@example.org"]
    assert all(attempts[r].reply.code == 250 for r in BATCH if r != "b@example.org")


def test_a_hang_up_during_data_defers_that_transaction_and_the_rest_go_on() -> None:
    mx = HangingUpMx("b@example.org", during="DATA")
    attempts = _deliver_batch(mx, BATCH)
    broken = attempts["b@example.org"]
    assert (broken.reply.code, broken.reply.status, broken.mx_host) == (
        451,
        "4.4.2",
        "mx.example.org",
    )
    assert "connection lost during DATA" in broken.reply.text
    assert mx.delivered == [b"a@example.org", b"c@example.org", b"d@example.org"]


def test_connections_that_get_nowhere_end_the_tries_and_defer_the_rest() -> None:
    """After the hang-up, the next connection breaks at MAIL at once: no further connection
    (it would go on forever), the rest are deferred for their retry."""
    mx = HangingUpMx("b@example.org", during="RCPT", hang_up_at_mail_after=1)
    attempts = _deliver_batch(mx, BATCH)
    assert mx.connections == 2 and mx.delivered == [b"a@example.org"]
    for rest in ("c@example.org", "d@example.org"):
        assert (attempts[rest].reply.code, attempts[rest].mx_host) == (451, None)
        assert "connection lost" in attempts[rest].reply.text
