"""Small helpers shared by the rig: binaries, ports, waiting, processes."""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# Where the Debian packages put binaries that are not on a normal user's PATH.
_EXTRA_PATH = ("/usr/sbin", "/sbin", "/usr/lib/postfix/sbin")

# Which Debian package ships each binary the rig runs (for the skip/fail message).
DEBIAN_PACKAGE = {
    "nsd": "nsd",
    "postfix": "postfix",
    "postconf": "postfix",
    "postqueue": "postfix",
    "postsuper": "postfix",
    "smtp-sink": "postfix",
    "swaks": "swaks",
    "nsd-checkzone": "nsd",
    "dkimproxy-verify": "libmail-dkim-perl",
    "dkimproxy-sign": "libmail-dkim-perl",
    "saslpasswd2": "sasl2-bin",
    "unshare": "util-linux",
    "ip": "iproute2",
}


def in_ci() -> bool:
    """True when running under CI, where a missing part must fail, never skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def which(binary: str) -> str | None:
    """Full path of `binary`, also looking in the sbin directories."""
    path = os.environ.get("PATH", "")
    extra = os.pathsep.join(d for d in _EXTRA_PATH if d not in path.split(os.pathsep))
    return shutil.which(binary, path=f"{path}{os.pathsep}{extra}" if extra else path)


def require(*binaries: str) -> None:
    """Skip the calling test when a binary is missing; under CI (CI=true) fail instead."""
    missing = [b for b in binaries if which(b) is None]
    if not missing:
        return
    packages = sorted({DEBIAN_PACKAGE.get(b, b) for b in missing})
    message = (
        f"{', '.join(missing)} not installed: run .ci/deps (Debian packages: {' '.join(packages)})"
    )
    _skip_or_fail(message)


def require_root(what: str) -> None:
    """Skip (fail under CI) unless running as root, as the Postfix master must."""
    if os.geteuid() != 0:
        _skip_or_fail(f"{what} needs root: the Postfix master runs only as root")


def _skip_or_fail(message: str) -> None:
    if in_ci():
        pytest.fail(f"CI must not skip: {message}", pytrace=False)
    pytest.skip(message)


_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_band() -> range:
    """This test process's share of the ports below the ephemeral range: pytest-xdist runs
    several test processes at once, each with its own `_handed_out`, so each draws from a
    band of its own (gw0, gw1, ...) and two never hand out the same port."""
    low = max(_ephemeral_range()[0], 10_001)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % _BANDS if worker.isdigit() else 0
    size = (low - 10_000) // _BANDS
    return range(10_000 + index * size, 10_000 + (index + 1) * size)


_BANDS = 8


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that is free right now (also free for UDP), below the kernel's
    ephemeral range: a port from that range may be taken as the source port of some
    outgoing connection (Postfix, swaks, the relay) before the server that was to listen on
    it starts. Never the same port twice in one test run."""
    candidates = random.sample(_port_band(), k=200)
    for port in candidates:
        if port in _handed_out or not _bindable(host, port):
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port on {host}")


def _bindable(host: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 0.02,
) -> None:
    """Poll `condition` until it is truthy; raise TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def wait_for_port(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Wait until host:port accepts TCP connections.

    `alive`, when given, is checked on every round: once it returns False the
    server has died and waiting any longer is pointless.
    """

    def ready() -> bool:
        if alive is not None and not alive():
            raise RuntimeError(f"server for {host}:{port} exited before it listened")
        return port_open(port, host, timeout=0.2)

    wait_until(ready, timeout, f"{host}:{port} to accept connections")


def pid_alive(pid: int) -> bool:
    """True when `pid` runs and is not a zombie (PID 1 here may not reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state is the first field after the parenthesised command name.
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def read_pidfile(path: Path) -> int | None:
    """The pid in a pid file, or None when the file is missing or empty."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def tail(path: Path, lines: int = 30) -> str:
    """Last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not readable)"


def die_with_parent() -> Callable[[], None] | None:
    """A Popen `preexec_fn`: the kernel sends the child SIGTERM when the test
    process dies, even by SIGKILL (Linux PR_SET_PDEATHSIG).

    Linux forgets the setting when the child changes its user or group ids,
    as the Postfix master and smtp-sink do: use `watchdog` for those. The
    signal follows the *thread* that started the child, so from any thread
    but the main one this returns None.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


_WATCHDOG = 'trap "kill -TERM $1 2>/dev/null; exit 0" TERM; while :; do sleep 1; done'


def watchdog(pid: int) -> subprocess.Popen[bytes] | None:
    """A tiny `sh` that SIGTERMs `pid` once the test process dies (even by SIGKILL).

    Kill it (terminate()) when `pid` is stopped normally.
    """
    preexec = die_with_parent()
    if preexec is None:
        return None
    return subprocess.Popen(
        ["/bin/sh", "-c", _WATCHDOG, "rig-watchdog", str(pid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=preexec,
    )


def end_watchdog(dog: subprocess.Popen[bytes] | None) -> None:
    if dog is not None and dog.poll() is None:
        dog.kill()
        dog.wait(timeout=5)
