"""Drive bench.lib.loadgen: start its processes, open every session, then go on one signal.

The sessions are opened (TLS handshake, AUTH) before the measured part starts: a shop keeps
them open, so what is timed is the steady state of messages on open sessions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.lib.loadgen import SEQ, Config, Result, shares
from bench.lib.procs import stop_process
from bench.lib.relay import RECIPIENT, SENDER
from bench.lib.source import smtp_data, source_command
from tests.rig.tools import die_with_parent

REPO = Path(__file__).resolve().parents[2]
Port = int | list[int]  # one listener, or one per relay node (the load generators take turns)
USERNAME = "bench"
PASSWORD = "bench-password-123"  # bench.lib.relay's shop and the Postfix SASL user


@dataclass
class LoadRun:
    """What the load generator saw: sessions, 250s, failures, latencies."""

    command: list[str]
    processes: int
    sessions: int  # asked for
    sessions_opened: int
    messages: int  # asked for
    accepted: int
    seconds: float  # from "go" until the last process was done
    loop: str
    dot_to_250: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def returncode(self) -> int:  # as SourceRun: 0 when every message got its 250
        return 0 if self.accepted == self.messages and not self.failures else 1


class TlsLoad:
    """`processes` load generator processes sharing `sessions` sessions and `messages`."""

    def __init__(
        self,
        sessions: int,
        messages: int,
        processes: int = 1,
        loop: str = "auto",
        recipient: str = RECIPIENT,
        password: str = PASSWORD,
    ) -> None:
        self.sessions, self.messages = sessions, messages
        self.processes = max(1, min(processes, sessions))
        self.loop = loop
        self.recipient, self.password = recipient, password
        self._procs: list[subprocess.Popen[str]] = []

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def command(self, port: Port) -> list[str]:
        """The command line of one process (for the report; the config is its argument)."""
        listeners = ", ".join(f"127.0.0.1:{p}" for p in _ports(port))
        return [sys.executable, "-m", "bench.lib.loadgen", f"CONFIG.json ({listeners})"]

    def start(self, port: Port, text: str) -> list[int]:
        """Start the processes and wait until each has opened its sessions; their pids.
        Several ports (relay nodes): process i submits to port i modulo their number."""
        ports = _ports(port)
        data = smtp_data(text).decode()
        parts = zip(
            shares(self.sessions, self.processes),
            shares(self.messages, self.processes),
            strict=True,
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        configs = Path(tempfile.mkdtemp(prefix="relay-bench-loadgen-"))
        for index, (sessions, messages) in enumerate(parts):
            config = Config(
                port=ports[index % len(ports)],
                sessions=sessions,
                messages=messages,
                data=data,
                sender=SENDER,
                recipient=self.recipient,
                username=USERNAME,
                password=self.password,
                loop=self.loop,
            )
            path = configs / f"{index}.json"
            path.write_text(json.dumps(asdict(config)))
            self._procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.lib.loadgen", str(path)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                    cwd=REPO,
                    start_new_session=True,
                    preexec_fn=die_with_parent(),  # SIGTERM when the benchmark is killed
                )
            )
        try:
            for proc in self._procs:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                if line.strip() != "ready":
                    self.stop()
                    raise RuntimeError(f"load generator did not get ready: {line!r}")
        finally:
            shutil.rmtree(configs, ignore_errors=True)  # read by every process by now
        return self.pids()

    def go(self, port: Port) -> LoadRun:
        """Release every session at once and wait until all are done."""
        started = time.perf_counter()
        for proc in self._procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in self._procs:
            out, _ = proc.communicate()
            lines = out.strip().splitlines()
            if proc.returncode != 0 or not lines:
                results.append(Result(failures=[f"load generator exit {proc.returncode}"]))
            else:
                results.append(Result(**json.loads(lines[-1])))
        seconds = time.perf_counter() - started
        self._procs = []
        return LoadRun(
            command=self.command(port),
            processes=len(results),
            sessions=self.sessions,
            sessions_opened=sum(r.sessions_opened for r in results),
            messages=self.messages,
            accepted=sum(r.accepted for r in results),
            seconds=seconds,
            loop=results[0].loop if results else "",
            dot_to_250=[x for r in results for x in r.dot_to_250],
            failures=[f for r in results for f in r.failures],
        )

    def stop(self) -> None:
        procs, self._procs = self._procs, []
        for proc in procs:
            stop_process(proc, timeout=5)  # type: ignore[arg-type]


class SourceLoad:
    """Postfix's smtp-source (the older way): no STARTTLS, no AUTH (the shop is trusted by its
    IP), a new connection for every message; no latency figures."""

    def __init__(self, sessions: int, messages: int, work: Path) -> None:
        self.sessions, self.messages = sessions, messages
        self.work = work
        self.message: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def pids(self) -> list[int]:
        proc = self._proc
        return [proc.pid] if proc is not None else []

    def command(self, port: Port) -> list[str]:
        assert self.message is not None
        [one] = _single(port)
        return source_command(one, self.sessions, self.messages, self.message)

    def start(self, port: Port, text: str) -> list[int]:
        _single(port)
        self.message = self.work / f"message-{len(text)}.eml"
        # smtp-source sends one file: every message the same Message-ID.
        self.message.write_text(text.replace(SEQ, "1"), encoding="utf-8")
        return []

    def go(self, port: Port) -> LoadRun:
        command = self.command(port)
        started = time.perf_counter()
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output, _ = self._proc.communicate()
        seconds = time.perf_counter() - started
        code, self._proc = self._proc.returncode, None
        failures = [] if code == 0 else [f"smtp-source exit {code}: {output.decode()[-1500:]}"]
        return LoadRun(
            command=command,
            processes=1,
            sessions=self.sessions,
            sessions_opened=self.sessions,
            messages=self.messages,
            accepted=self.messages if code == 0 else 0,
            seconds=seconds,
            loop="-",
            failures=failures,
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc, timeout=5)


def _ports(port: Port) -> list[int]:
    return list(port) if isinstance(port, list) else [port]


def _single(port: Port) -> list[int]:
    ports = _ports(port)
    if len(ports) != 1:
        raise ValueError("smtp-source submits to one port: several relay nodes need --mode tls")
    return ports


def wrong_password_refused(port: Port) -> str:
    """'' when AUTH with a wrong password is refused (535, RFC 4954 6), else what happened:
    proof that the system measured really checks the credentials."""
    load = TlsLoad(1, 0, password="not-the-" + PASSWORD)
    load.start(port, "Subject: -\n\n-\n")
    result = load.go(port)
    if result.sessions_opened == 0 and any(" 535" in f for f in result.failures):
        return ""
    return f"a wrong password was not refused with 535: {result.failures or 'accepted'}"
