"""Postfix's smtp-sink: a fast fake MX that takes mail and throws it away (benchmarks).

It runs with `-c`, which prints running counters ("sess=N quit=N mesg=N",
separated by carriage returns) to stdout whenever a session ends, QUIT is
received or a message is complete; `count` reads the last one from a file.
"""

from __future__ import annotations

import atexit
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.rig.tools import (
    end_watchdog,
    free_port,
    tail,
    wait_for_port,
    wait_until,
    watchdog,
    which,
)

_COUNTERS = re.compile(rb"mesg=(\d+)")


class SmtpSink:
    """`smtp-sink -c` on 127.0.0.1:<port>; `count` is the number of messages taken."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        hostname: str = "sink.example.net",
        options: Sequence[str] = (),
        backlog: int = 256,
    ) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.hostname = hostname
        self.options = tuple(options)  # e.g. ("-r", "RCPT") to defer every RCPT
        self.backlog = backlog
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def output_path(self) -> Path:
        return self.workdir / f"smtp-sink-{self.port}.out"

    def start(self) -> SmtpSink:
        binary = which("smtp-sink")
        if binary is None:
            raise RuntimeError("smtp-sink not installed: run .ci/deps (Debian package postfix)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [binary, "-c", "-4", "-h", self.hostname, *self.options]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]  # smtp-sink insists on dropping root
        command += [f"127.0.0.1:{self.port}", str(self.backlog)]
        with open(self.output_path, "wb") as out:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        atexit.register(self.stop)  # also when the test run is interrupted
        try:
            self._watchdog = watchdog(self._proc.pid)  # and when it is killed
            wait_for_port(self.port, timeout=10, alive=lambda: self.running)
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(
                f"smtp-sink did not start: {exc}\n{tail(self.output_path)}"
            ) from None
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def count(self) -> int:
        """Messages received so far (complete DATA phases)."""
        try:
            counters = _COUNTERS.findall(self.output_path.read_bytes())
        except OSError:
            return 0
        return int(counters[-1]) if counters else 0

    def wait_for_count(self, count: int, timeout: float = 60.0) -> int:
        wait_until(lambda: self.count >= count, timeout, f"smtp-sink to take {count} messages")
        return self.count

    def stop(self) -> None:
        atexit.unregister(self.stop)
        end_watchdog(self._watchdog)
        self._watchdog = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
