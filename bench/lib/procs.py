"""Process bookkeeping read from /proc, and cleanup of everything a benchmark started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def parents() -> dict[int, int]:
    """pid -> ppid of every process on the machine."""
    found: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and len(fields) > 1:
                found[int(entry.name)] = int(fields[1])
    return found


def tree(root: int, ppids: dict[int, int] | None = None) -> list[int]:
    """`root` and all its descendants (this kernel has no /proc/PID/task/TID/children)."""
    ppids = parents() if ppids is None else ppids
    children: dict[int, list[int]] = {}
    for pid, ppid in ppids.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in ppids or pid == root:
            out.append(pid)
            stack.extend(children.get(pid, ()))
    return out


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of one process, in clock ticks (children not included)."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 13:
        return None
    return int(fields[11]) + int(fields[12])


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages divided among their users (sums correctly)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def system_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat.

    Busy is user + nice + system: what processes' utime + stime add up to. Interrupt and
    softirq time (loopback networking, counted to no process) is left out.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return values[0] + values[1] + values[2], sum(values[:8])


def pids(*fixed: int) -> Callable[[], list[int]]:
    """Roots for TreeMonitor: these pids, captured now (valid after their owner forgets them)."""
    return lambda: list(fixed)


@dataclass
class Usage:
    """What a group of process trees used while it was watched."""

    cpu_seconds: float = 0.0
    peak_rss: int = 0  # the highest sum over the trees' processes seen at one sample
    peak_pss: int = 0  # the same for PSS (shared pages counted once), every 5th sample
    processes: int = 0  # the most processes seen at one sample
    samples: int = 0


@dataclass
class TreeMonitor:
    """Samples process trees every `interval` seconds in a thread.

    CPU per process is remembered at its last sample, so processes that exit while we watch
    (Postfix's smtpd, the relay's signing workers at shutdown) still count, minus at most one
    interval. RSS is summed over all processes of the trees at each sample; the peak is kept.
    """

    roots: Callable[[], Iterable[int]]
    interval: float = 0.05
    _start_ticks: dict[int, int] = field(default_factory=dict)
    _last_ticks: dict[int, int] = field(default_factory=dict)
    _usage: Usage = field(default_factory=Usage)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeMonitor:
        for pid in self._pids():
            ticks = cpu_ticks(pid)
            if ticks is not None:
                self._start_ticks[pid] = ticks
        self._thread = threading.Thread(target=self._run, name="tree-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Usage:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        used = sum(t - self._start_ticks.get(p, 0) for p, t in self._last_ticks.items())
        self._usage.cpu_seconds = used / CLK_TCK
        return self._usage

    def sample(self) -> None:
        rss, pss, count = 0, 0, 0
        with_pss = self._usage.samples % 5 == 0
        for pid in self._pids():
            ticks = cpu_ticks(pid)
            if ticks is None:
                continue
            self._last_ticks[pid] = ticks
            rss += rss_bytes(pid)
            if with_pss:
                pss += pss_bytes(pid)
            count += 1
        self._usage.peak_rss = max(self._usage.peak_rss, rss)
        self._usage.peak_pss = max(self._usage.peak_pss, pss)
        self._usage.processes = max(self._usage.processes, count)
        self._usage.samples += 1

    def _pids(self) -> list[int]:
        ppids = parents()
        return [pid for root in self.roots() for pid in tree(root, ppids)]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a root that is gone (interrupted run): keep the last figures
                return


@dataclass
class SystemCpu:
    """Busy CPU time of the whole machine between start() and stop()."""

    _busy: int = 0

    def start(self) -> SystemCpu:
        self._busy = system_busy_ticks()[0]
        return self

    def stop(self) -> float:
        return (system_busy_ticks()[0] - self._busy) / CLK_TCK


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGTERM, wait, then SIGKILL the process and its process group (started with
    start_new_session=True, so the group is its own and holds only its children)."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of its group (signing workers)


class Cleanup:
    """Undo actions run last-in first-out, on normal exit, errors, Ctrl-C and SIGTERM."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], object]] = []

    def __enter__(self) -> Cleanup:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGHUP, self._on_term)
        return self

    def __exit__(self, *exc: object) -> None:
        # Ctrl-C during the cleanup itself must not leave things half-stopped.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self._actions:
                action = self._actions.pop()
                try:
                    action()
                except Exception as error:  # keep cleaning up the rest
                    print(f"cleanup: {error!r}")
        finally:
            signal.signal(signal.SIGINT, previous)

    def add(self, action: Callable[[], object]) -> None:
        self._actions.append(action)

    @staticmethod
    def _on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")


def wait_quiet(limit: float, seconds: float = 120.0, window: float = 2.0) -> float:
    """Wait (up to `seconds`) for a `window` in which the machine's busy CPU, in cores, is
    below `limit`; returns the last measured load (other sessions' test runs are noise)."""
    deadline = time.monotonic() + seconds
    while True:
        before = system_busy_ticks()[0]
        time.sleep(window)
        load = (system_busy_ticks()[0] - before) / CLK_TCK / window
        if load < limit or time.monotonic() >= deadline:
            return load


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll until `condition()`; False when `timeout` passed first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
