"""A receiving server whose reply carries an 8-bit byte (a Latin-1 umlaut, as older German
Exchange, Domino and qmail set-ups write them): the delivery result is still recorded.

Before the fix (found by review 3):

aiosmtplib decodes replies with `surrogateescape`, so the reply text holds a lone surrogate
('\\udcfc'); `record_attempt` binds it to SQLite (and psycopg), which refuse to encode it
(UnicodeEncodeError, not a StoreError). The scheduler takes that for a bug in the lane and
quarantines the row: a message the customer's server accepted (250) is shown as quarantined,
not delivered, its attempt is not kept, the shop's webhook never hears `message.delivered`;
with a 5xx the bounce (and a dead-address block) is lost the same way.

Real scheduler, client and store; the MX is a raw SMTP server on 127.0.0.1 (aiosmtpd cannot
write a non-UTF-8 reply).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from relay.delivery.outcome import Reply
from relay.store.recipients import Lease
from tests.held_mx import scheduler_for, until
from tests.store_fixtures import new_database, queue_message, table


def state(db) -> str:  # type: ignore[no-untyped-def]
    return str(table(db, "SELECT state FROM recipients")[0]["state"])


LEASE = Lease(node="node-a", owner="node-a/w0.1", duration=30.0, retry=300.0)
FINAL_REPLY = b"250 2.0.0 Ok: Nachricht \xfcbernommen\r\n"  # "übernommen" in Latin-1


class Latin1Mx:
    """A minimal SMTP server: every command gets 250, DATA 354, the final dot FINAL_REPLY."""

    def __init__(self) -> None:
        self.port = 0
        self.messages = 0
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> Latin1Mx:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.example.org ESMTP\r\n")
        in_data = False
        while line := await reader.readline():
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    self.messages += 1
                    writer.write(FINAL_REPLY)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-mx.example.org\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 2.0.0 Ok\r\n")
            await writer.drain()
        writer.close()


def test_an_accepted_message_with_a_latin1_reply_is_recorded_delivered(tmp_path: Path) -> None:
    db = new_database(tmp_path)
    queue_message(db, "max@example.org")

    async def main() -> str:
        writer = db.writer()
        writer.start()
        async with Latin1Mx() as mx:
            scheduler = scheduler_for(db, writer.run, mx, LEASE)  # type: ignore[arg-type]
            await scheduler.start(release_node=False)
            await until(
                lambda: state(db) not in ("queued", "inflight"),
                "a final state",
            )
            await scheduler.stop()
        writer.stop()
        assert mx.messages == 1
        return state(db)

    assert asyncio.run(main()) == "delivered"
    text = table(db, "SELECT last_text FROM recipients")[0]["last_text"]
    assert "übernommen" in text


def test_reply_text_is_clean_unicode_whatever_the_server_sent() -> None:
    latin1 = b"5.1.1 Empf\xe4nger unbekannt".decode("utf-8", "surrogateescape")
    utf8 = "5.1.1 Empfänger unbekannt".encode().decode("utf-8", "surrogateescape")
    for message in (latin1, utf8):
        reply = Reply.from_server(550, message)
        assert reply.text == "Empfänger unbekannt"
        assert reply.status == "5.1.1"
        reply.text.encode("utf-8")  # storable: no lone surrogate
    assert Reply.from_server(550, "odd \ud800 text").text == "odd ? text"
