"""Running in the background: `relay serve --detach`, `relay sink --detach`, `relay stop`.

`--detach` starts the same command again without it, in a session of its own with its output
in a log file, plus `--ready-fd N`: the background process writes one byte to N once it
serves, and the end of the pipe without that byte means it exited first. So the command
returns when the listeners are open (a script can send mail on the next line), or fails with
the background process's own error.

The pid file is written once the process is ready (a second instance that fails to start
must not overwrite the first one's) and removed at exit only if it still names this process.
"""

import contextlib
import os
import select
import signal
import subprocess
import time
from pathlib import Path

READY_TIMEOUT = 120.0  # worker start-up on a loaded two-core machine takes seconds


class DaemonError(Exception):
    """Starting or stopping failed; the message says why and what to do."""


def start_detached(command: list[str], log_path: Path, timeout: float = READY_TIMEOUT) -> int:
    """Run `command --ready-fd N` in the background; return its pid once it is ready."""
    read_end, write_end = os.pipe()
    try:
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [*command, "--ready-fd", str(write_end)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(write_end,),
                start_new_session=True,  # no SIGHUP/SIGINT from this terminal
            )
    finally:
        os.close(write_end)  # the child holds the only write end: EOF when it exits
    try:
        answer = _read_byte(read_end, timeout)
    finally:
        os.close(read_end)
    if answer == b"r":
        return proc.pid
    if answer is None:
        raise DaemonError(
            f"not ready after {timeout:.0f} s; it is still starting as pid {proc.pid}"
            f" (see {log_path})"
        )
    try:  # the pipe ended without the byte: it is exiting, or has exited
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise DaemonError(
            f"closed its readiness pipe but still runs as pid {proc.pid} (see {log_path})"
        ) from None
    raise DaemonError(f"exited with status {code} before it was ready:\n{tail(log_path)}")


def _read_byte(fd: int, timeout: float) -> bytes | None:
    """The byte, b"" at the end of the pipe, None at the timeout."""
    readable, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1) if readable else None


def signal_ready(fd: int | None) -> None:
    """Tell whoever started us with --ready-fd that we serve now."""
    if fd is not None:
        with contextlib.suppress(OSError):  # the starter may have given up waiting
            os.write(fd, b"r")
        os.close(fd)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(f"{os.getpid()}\n")
        tmp.replace(self.path)

    def remove(self) -> None:
        if self.read() == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def read(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None


def running_pid(pid_file: PidFile, marker: bytes) -> int | None:
    """The pid in the file if that process is alive and its command line holds `marker`
    (a stale file after a kill -9 may name a pid reused by something else)."""
    pid = pid_file.read()
    if pid is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if marker in cmdline and not _zombie(pid) else None


def stop(pid: int, timeout: float) -> bool:
    """SIGTERM `pid` and wait until it is gone; False if it still runs after `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
