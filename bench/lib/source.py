"""Load: Postfix's smtp-source, the message it sends, and an asyncio latency sampler."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.lib.relay import RECIPIENT, SENDER
from tests.rig.tools import which

_LINE = 76  # body line length (RFC 5322 recommends <= 78)


def smtp_source() -> str:
    binary = which("smtp-source")
    if binary is None:
        raise SystemExit("smtp-source not found: apt-get install postfix")
    return binary


def message_text(size: int, subject: str = "Ihre Bestellung 10042") -> str:
    """A plain shop notification of about `size` bytes (headers included), ASCII, LF line ends."""
    head = (
        'From: "Bench Shop" <info@shop.example.com>\n'
        f"To: <{RECIPIENT}>\n"
        f"Subject: {subject}\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
    )
    body_size = max(size - len(head), 1)
    line = ("Vielen Dank fuer Ihre Bestellung. Artikel 4711, Menge 1, Preis 19,99 EUR. " * 2)[
        : _LINE - 1
    ]
    lines, remaining = [], body_size
    while remaining > 0:
        chunk = line[: max(remaining - 1, 0)]
        lines.append(chunk)
        remaining -= len(chunk.encode()) + 1
    return head + "\n".join(lines) + "\n"


def write_message(path: Path, size: int) -> Path:
    path.write_text(message_text(size), encoding="utf-8")
    return path


def source_command(
    port: int, sessions: int, messages: int, message_file: Path, reuse: bool = False
) -> list[str]:
    """smtp-source: `sessions` parallel sessions, `messages` in all, the file as the message.

    Without -d every message is its own connection (connect, EHLO, MAIL, RCPT, DATA, QUIT).
    """
    cmd = [smtp_source(), "-s", str(sessions), "-m", str(messages)]
    if reuse:
        cmd.append("-d")
    cmd += ["-F", str(message_file), "-f", SENDER, "-t", RECIPIENT, "-M", "shop-host.example.com"]
    return [*cmd, f"127.0.0.1:{port}"]


@dataclass
class SourceRun:
    command: list[str]
    seconds: float
    returncode: int
    output: str


def run_source(command: list[str]) -> SourceRun:
    """Run smtp-source to completion; its own session, killed if we are interrupted."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return SourceRun(command, time.perf_counter() - started, proc.returncode, output.decode())


async def run_source_async(command: list[str]) -> SourceRun:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return SourceRun(command, time.perf_counter() - started, proc.returncode, output.decode())


# --- latency -----------------------------------------------------------------------------


@dataclass
class Latency:
    """Acceptance latency samples, seconds: from writing the final "." to reading the 250."""

    dot_to_250: list[float] = field(default_factory=list)
    session: list[float] = field(default_factory=list)  # connect .. 250 after the dot
    failures: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.dot_to_250)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


async def _reply(reader: asyncio.StreamReader) -> str:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode(errors="replace").rstrip())
        if line[3:4] != b"-":
            return "\n".join(lines)


async def one_sample(port: int, data: bytes, result: Latency) -> None:
    """One SMTP transaction on a new connection, as smtp-source does it (no pipelining)."""
    started = time.perf_counter()
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        steps = [
            b"",
            b"EHLO latency-probe.example.com\r\n",
            f"MAIL FROM:<{SENDER}>\r\n".encode(),
            f"RCPT TO:<{RECIPIENT}>\r\n".encode(),
            b"DATA\r\n",
        ]
        for command in steps:
            if command:
                writer.write(command)
            reply = await _reply(reader)
            if reply[:1] not in "23":
                raise RuntimeError(f"{command!r}: {reply}")
        writer.write(data)
        await writer.drain()
        dot = time.perf_counter()
        reply = await _reply(reader)
        done = time.perf_counter()
        if not reply.startswith("250"):
            raise RuntimeError(f"end of data: {reply}")
        result.dot_to_250.append(done - dot)
        result.session.append(done - started)
        writer.write(b"QUIT\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await _reply(reader)
    except Exception as error:
        result.failures.append(f"{type(error).__name__}: {error}")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def smtp_data(text: str) -> bytes:
    """The DATA payload as sent on the wire: CRLF, dot-stuffed, ended by CRLF.CRLF."""
    lines = text.rstrip("\n").split("\n")
    stuffed = [("." + line) if line.startswith(".") else line for line in lines]
    return ("\r\n".join(stuffed) + "\r\n.\r\n").encode()


async def sample_latency(port: int, text: str, rate: float, stop: asyncio.Event) -> Latency:
    """Open-loop sampling: start one transaction every 1/rate s until `stop` is set.

    Each sample is its own task, so a slow reply never delays the next sample.
    """
    result = Latency()
    data = smtp_data(text)
    tasks: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate
    next_at = time.perf_counter()
    while not stop.is_set():
        task = asyncio.create_task(one_sample(port, data, result))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += interval
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.perf_counter()))
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    return result


def cpu_count() -> int:
    return os.cpu_count() or 1
