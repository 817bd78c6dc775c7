"""CPU and memory of several groups of process trees, from one scan of /proc per sample.

One monitor for all groups: each scan of /proc costs CPU on the machine being measured, so
the system, the load generator, the sink side and the benchmark's own tree are sampled
together, not by a monitor each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from bench.lib.procs import CLK_TCK, Usage, cpu_ticks, parents, pss_bytes, rss_bytes, tree

Roots = Callable[[], Iterable[int]]


class GroupMonitor:
    """Samples every `interval` s in a thread. CPU per process is remembered at its last
    sample, so processes that exit meanwhile (Postfix's smtpd, smtp-source) still count, minus
    at most one interval. Memory (summed RSS, PSS every 5th sample) only for `memory` groups."""

    def __init__(
        self, groups: dict[str, Roots], memory: Iterable[str] = (), interval: float = 0.1
    ) -> None:
        self.groups = groups
        self.memory = set(memory)
        self.interval = interval
        self._start: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._members: dict[str, set[int]] = {name: set() for name in groups}
        self._usage = {name: Usage() for name in groups}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> GroupMonitor:
        for pids in self._scan().values():
            for pid in pids:
                ticks = cpu_ticks(pid)
                if ticks is not None:
                    self._start.setdefault(pid, ticks)
        self._thread = threading.Thread(target=self._run, name="group-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Usage]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        for name, usage in self._usage.items():
            used = sum(self._last[p] - self._start.get(p, 0) for p in self._members[name])
            usage.cpu_seconds = used / CLK_TCK
        return self._usage

    def sample(self) -> None:
        ticks: dict[int, int | None] = {}
        for name, pids in self._scan().items():
            usage = self._usage[name]
            with_memory = name in self.memory
            with_pss = with_memory and usage.samples % 5 == 0
            rss = pss = count = 0
            for pid in pids:
                if pid not in ticks:
                    ticks[pid] = cpu_ticks(pid)
                if ticks[pid] is None:
                    continue
                self._last[pid] = ticks[pid]  # type: ignore[assignment]
                self._members[name].add(pid)
                count += 1
                if with_memory:
                    rss += rss_bytes(pid)
                    pss += pss_bytes(pid) if with_pss else 0
            usage.peak_rss = max(usage.peak_rss, rss)
            usage.peak_pss = max(usage.peak_pss, pss)
            usage.processes = max(usage.processes, count)
            usage.samples += 1

    def _scan(self) -> dict[str, list[int]]:
        ppids = parents()
        return {
            name: [pid for root in roots() for pid in tree(root, ppids)]
            for name, roots in self.groups.items()
        }

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a root that is gone (interrupted run): keep the last figures
                return
