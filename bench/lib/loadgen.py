"""The TLS + AUTH load generator: shop sessions kept open, many messages each.

Run as a child process (`python -m bench.lib.loadgen CONFIG.json`) by bench.lib.submit, one
or more at a time. Each process opens its sessions (EHLO, STARTTLS, EHLO, AUTH PLAIN:
RFC 3207, RFC 4954), prints `ready`, waits for `go` on stdin, then every session sends its
share of messages back to back (MAIL, RCPT, DATA, the message; no PIPELINING, as the common
shop mailers do) and QUITs. Last it prints one JSON line: counts, failures and the latency
of every message from the end of DATA (the final "." written) to the 250.

Kept small so that it is not the bottleneck: the message is encoded once, replies are read
as lines and checked by their code only, and uvloop runs the event loop where installed.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import ssl
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SEQ = "@@SEQ@@"
_sequence = itertools.count(1)  # Message-ID numbers, unique in this process


@dataclass(frozen=True)
class Config:
    port: int
    sessions: int
    messages: int  # in all, over this process's sessions
    data: str  # the DATA payload as sent: CRLF, dot-stuffed, ending in CRLF.CRLF; SEQ in it
    # becomes a number unique in this process (each message its own Message-ID)
    sender: str
    recipient: str
    username: str
    password: str
    tls: bool = True
    loop: str = "auto"  # auto | asyncio | uvloop
    host: str = "127.0.0.1"


@dataclass
class Result:
    loop: str = ""
    sessions_opened: int = 0
    accepted: int = 0
    seconds: float = 0.0
    dot_to_250: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class Refused(Exception):
    """The server answered a command with an unexpected code."""


async def _reply(reader: asyncio.StreamReader) -> bytes:
    """The last line of a (possibly multi-line) reply (RFC 5321 4.2.1)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed by the server")
        if line[3:4] != b"-":
            return line


async def _command(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes, code: bytes
) -> None:
    writer.write(line)
    reply = await _reply(reader)
    if not reply.startswith(code):
        raise Refused(f"{line.split(b' ', 1)[0].decode().strip()}: {reply.decode().strip()}")


async def open_session(
    config: Config, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(config.host, config.port)
    greeting = await _reply(reader)
    if not greeting.startswith(b"220"):
        raise Refused(f"greeting: {greeting.decode().strip()}")
    await _command(reader, writer, b"EHLO shop-host.example.com\r\n", b"250")
    if config.tls:
        await _command(reader, writer, b"STARTTLS\r\n", b"220")
        await writer.start_tls(context)
        await _command(reader, writer, b"EHLO shop-host.example.com\r\n", b"250")
        plain = base64.b64encode(f"\0{config.username}\0{config.password}".encode())
        await _command(reader, writer, b"AUTH PLAIN " + plain + b"\r\n", b"235")
    return reader, writer


async def send_messages(
    config: Config,
    count: int,
    session: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    go: asyncio.Event,
    result: Result,
) -> None:
    reader, writer = session
    mail = f"MAIL FROM:<{config.sender}>\r\n".encode()
    rcpt = f"RCPT TO:<{config.recipient}>\r\n".encode()
    head, marked, tail = config.data.encode().partition(SEQ.encode())
    clock = time.perf_counter
    await go.wait()
    try:
        for _ in range(count):
            data = head + str(next(_sequence)).encode() + tail if marked else head
            await _command(reader, writer, mail, b"250")
            await _command(reader, writer, rcpt, b"250")
            await _command(reader, writer, b"DATA\r\n", b"354")
            writer.write(data)
            await writer.drain()
            dot = clock()
            reply = await _reply(reader)
            if not reply.startswith(b"250"):
                raise Refused(f"end of data: {reply.decode().strip()}")
            result.dot_to_250.append(clock() - dot)
            result.accepted += 1
        writer.write(b"QUIT\r\n")
        await _reply(reader)
    except (Refused, OSError, ssl.SSLError) as error:
        result.failures.append(f"{type(error).__name__}: {error}")
    finally:
        writer.close()


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def run(config: Config, result: Result) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False  # the systems measured present self-signed certificates
    context.verify_mode = ssl.CERT_NONE
    opened = await asyncio.gather(
        *(open_session(config, context) for _ in range(config.sessions)), return_exceptions=True
    )
    sessions = [s for s in opened if not isinstance(s, BaseException)]
    result.failures += [f"session: {e!r}" for e in opened if isinstance(e, BaseException)]
    result.sessions_opened = len(sessions)
    go = asyncio.Event()
    tasks = [
        asyncio.create_task(send_messages(config, n, s, go, result))
        for n, s in zip(shares(config.messages, max(len(sessions), 1)), sessions, strict=False)
    ]
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.strip() != "go":  # the benchmark is gone (EOF): send nothing
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return
    started = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started


def _event_loop(choice: str) -> tuple[str, object]:
    """(name, runner factory) of the event loop to use."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise SystemExit("uvloop is not installed: .venv/bin/pip install uvloop") from None
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", asyncio.new_event_loop


def main(argv: list[str]) -> int:
    config = Config(**json.loads(Path(argv[1]).read_text()))
    result = Result()
    result.loop, factory = _event_loop(config.loop)
    with asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[arg-type]
        runner.run(run(config, result))
    print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
