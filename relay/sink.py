"""`relay sink`: a capture SMTP server for trying the relay out (point `relayhost` at it).

It takes every message for every recipient, without AUTH or TLS, and delivers it into a
Maildir (new/, one file per recipient, as a mail server's delivery agent would: LF line
endings, `Return-Path` and `Delivered-To` on top), then prints one `key=value` line per
message. Nothing is ever sent on. Meant for loopback: anyone who can reach it can fill the
disk.
"""

import asyncio
import email.parser
import email.policy
import mailbox
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from aiosmtpd.smtp import SMTP

from relay.logs import iso_time, key_values

DEFAULT_LISTEN = "127.0.0.1:2526"
OK = "250 2.0.0 Ok: delivered to {count} mailbox(es) of the sink"
NOT_STORED = "451 4.3.0 The sink could not store the message: {why}"


class SinkHandler:
    def __init__(self, maildir: Path, out: TextIO) -> None:
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips them in an existing dir
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(maildir, create=False)
        self.maildir = maildir
        self.out = out

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        try:
            return self._deliver(envelope)
        except OSError as exc:  # a full disk, a removed directory: the sender tries again
            return NOT_STORED.format(why=exc.strerror or type(exc).__name__)

    def _deliver(self, envelope) -> str:  # type: ignore[no-untyped-def]
        content = envelope.content.replace(b"\r\n", b"\n")
        sender = envelope.mail_from or ""
        for rcpt in envelope.rcpt_tos:
            trace = f"Return-Path: <{sender}>\nDelivered-To: {rcpt}\n".encode()
            key = self.box.add(trace + content)
            line = key_values(
                {
                    "time": iso_time(time.time()),
                    "from": f"<{sender}>",
                    "to": rcpt,
                    "size": len(content),
                    "subject": subject_of(content),
                    "file": str(self.maildir / "new" / key),
                }
            )
            print(line, file=self.out, flush=True)
        return OK.format(count=len(envelope.rcpt_tos))


def subject_of(content: bytes) -> str:
    """The decoded Subject, for the printed line (RFC 2047 words decoded)."""
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    try:
        return str(parser.parsebytes(content).get("Subject", ""))
    except (ValueError, LookupError):  # a header the parser cannot take: show none
        return ""


async def run_sink(host: str, port: int, maildir: Path, on_ready: Callable[[], None]) -> None:
    """Serve until SIGTERM or SIGINT."""
    handler = SinkHandler(maildir, sys.stdout)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="sink.localhost",
            ident="relay sink",
            decode_data=False,
            enable_SMTPUTF8=True,
        ),
        host,
        port,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    on_ready()
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
