"""The lab's two SMTP servers, written out so that every reply is exactly as chosen.

store  127.0.0.2:25  the customer's internal mailbox server behind the MTA under test; it
                     answers per local part (STORE_REPLIES) and advertises SIZE, so that the
                     MTA must bounce a larger message itself or meet a 552 5.3.4.
sink   127.0.0.4:25  MX of the relay's bounce domain: keeps every report it is sent.

No DSN extension is advertised (RFC 3461 §4.1 then asks the MTA for a "relayed" notice
when the sender asked NOTIFY=SUCCESS). SMTPUTF8 is advertised (RFC 6531).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

STORE = ("127.0.0.2", "store.example.org")
SINK = ("127.0.0.4", "mx.bounces.relay.example.net")
SIZE_LIMIT = 20000

# local part -> RCPT reply; the words are those of the servers named in the comments.
STORE_REPLIES = {
    # Postfix as a mailbox server (smtpd "User unknown in virtual mailbox table").
    "nobody": "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual "
    "mailbox table",
    "jörg.müller": "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual "
    "mailbox table",
    # Dovecot LMTP's default quota_exceeded_message.
    "full": "552 5.2.2 <{rcpt}> Quota exceeded (mailbox for user is full)",
}
TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class Server:
    role: str  # "store" or "sink"
    address: str
    hostname: str
    kept: list[Received] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=itertools.count)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = _Session(self, reader, writer)
        try:
            await s.run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def rcpt_reply(self, address: str) -> str:
        if self.role != "store":
            return "250 2.1.5 Ok"
        local = unicodedata.normalize("NFC", address.rpartition("@")[0]).lower()
        return STORE_REPLIES.get(local, "250 2.1.5 Ok").format(rcpt=address)

    def accept(self, sender: str, recipients: list[str], data: bytes) -> str:
        if self.role == "store" and len(data) > SIZE_LIMIT:
            return TOO_BIG
        self.kept.append(Received(sender, list(recipients), data))
        return f"250 2.0.0 Ok: queued as {self.role.upper()}{next(self._ids):05d}"


class _Session:
    def __init__(self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.server, self.reader, self.writer = server, reader, writer
        self.sender: str | None = None
        self.recipients: list[str] = []

    async def say(self, reply: str) -> None:
        self.writer.write(reply.encode() + b"\r\n")
        await self.writer.drain()

    async def run(self) -> None:
        await self.say(f"220 {self.server.hostname} ESMTP lab")
        while True:
            line = (await self.reader.readuntil(b"\n")).decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                await self.say("221 2.0.0 Bye")
                return
            await self.say(await self.reply(verb, arg))

    async def reply(self, verb: str, arg: str) -> str:
        if verb == "EHLO":
            extensions = ["8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"]
            if self.server.role == "store":  # the sink takes any size (a DSN quotes it all)
                extensions.insert(0, f"SIZE {SIZE_LIMIT}")
            lines = [self.server.hostname, *extensions]
            return "\r\n".join(f"250-{x}" for x in lines[:-1]) + f"\r\n250 {lines[-1]}"
        if verb == "HELO":
            return f"250 {self.server.hostname}"
        if verb == "MAIL":
            return self.mail(arg)
        if verb == "RCPT":
            return self.rcpt(arg)
        if verb == "DATA":
            return await self.data()
        if verb == "RSET":
            self.sender, self.recipients = None, []
            return "250 2.0.0 Ok"
        if verb == "NOOP":
            return "250 2.0.0 Ok"
        return "502 5.5.2 Error: command not recognized"

    def mail(self, arg: str) -> str:
        path, params = _path_and_params(arg, "FROM:")
        size = params.get("SIZE", "0")
        if self.server.role == "store" and size.isdigit() and int(size) > SIZE_LIMIT:
            return TOO_BIG
        self.sender, self.recipients = path, []
        return "250 2.1.0 Ok"

    def rcpt(self, arg: str) -> str:
        if self.sender is None:
            return "503 5.5.1 Error: need MAIL command"
        path, _ = _path_and_params(arg, "TO:")
        reply = self.server.rcpt_reply(path)
        if reply.startswith("2"):
            self.recipients.append(path)
        return reply

    async def data(self) -> str:
        if not self.recipients:
            return "554 5.5.1 Error: no valid recipients"
        await self.say("354 End data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            line = await self.reader.readuntil(b"\n")
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b".") else line)  # RFC 5321 §4.5.2
        reply = self.server.accept(self.sender or "", self.recipients, b"".join(lines))
        self.sender, self.recipients = None, []
        return reply


def _path_and_params(arg: str, keyword: str) -> tuple[str, dict[str, str]]:
    """'FROM:<a@b> SIZE=10 BODY=8BITMIME' -> ('a@b', {'SIZE': '10', 'BODY': '8BITMIME'})."""
    rest = arg[len(keyword) :] if arg.upper().startswith(keyword) else arg
    path, _, params = rest.strip().partition(">")
    pairs = (p.partition("=") for p in params.split())
    return path.lstrip("<"), {k.upper(): v for k, _, v in pairs}


def serve(*servers: Server) -> None:
    """Run the servers on port 25 of their addresses, in a daemon thread."""
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def main() -> None:
        for server in servers:
            await asyncio.start_server(server.session, server.address, 25, limit=1 << 24)
        started.set()
        await asyncio.Event().wait()

    threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True).start()
    if not started.wait(10):
        raise RuntimeError("lab SMTP servers did not start")


def save(kept: list[Received], directory: Path) -> list[Path]:
    """Write what the sink kept, one file per message, in arrival order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, message in enumerate(kept):
        path = directory / f"{number:03d}.eml"
        path.write_bytes(message.data.replace(b"\r\n", b"\n"))
        path.with_suffix(".rcpt").write_text("\n".join(message.recipients) + "\n")
        paths.append(path)
    return paths
