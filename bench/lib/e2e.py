"""One measured run of bench/relay: a system, a message size, a load, timed until the sink has
every message; CPU of the system, of the load generator and of the sink side apart."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Protocol

from bench.lib.groups import GroupMonitor
from bench.lib.loadgen import SEQ
from bench.lib.procs import SystemCpu, TreeMonitor, Usage, pids, wait_for, wait_quiet
from bench.lib.sink import Sink
from bench.lib.source import message_text, percentile
from bench.lib.submit import LoadRun, Port
from bench.lib.systems import sessions_by_process

WARM_UP_SESSIONS, WARM_UP_MESSAGES = 10, 100


class Load(Protocol):
    def pids(self) -> list[int]: ...
    def start(self, port: int, text: str) -> list[int]: ...
    def go(self, port: int) -> LoadRun: ...
    def stop(self) -> None: ...


class System(Protocol):
    name: str
    warmed: int

    def start(self) -> Port: ...
    def roots(self) -> list[int]: ...
    def check(self, accepted: int) -> list[str]: ...
    def stop(self) -> None: ...


@dataclass
class Run:
    mode: str  # tls | smtp-source
    system: str
    round: int
    size: int
    load: LoadRun
    delivered_after: float  # seconds from "go" until the sink had every accepted message
    delivered: int
    backlog: int  # accepted but not yet delivered when the load generator finished
    usage: Usage  # the system's processes
    load_usage: Usage  # the load generator's processes
    sink_usage: Usage  # smtp-sink and nsd
    other_cpu: float  # CPU seconds of the machine outside this benchmark's processes
    load_before: float  # busy cores just before the run
    idle_rss: int = 0
    sessions_per_worker: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def accepted_rate(self) -> float:
        return self.load.accepted / self.load.seconds if self.load.seconds else 0.0

    @property
    def delivered_rate(self) -> float:
        done = self.delivered_after
        return self.delivered / done if 0 < done < float("inf") else 0.0

    def ms_per_message(self, usage: Usage) -> float:
        return usage.cpu_seconds / self.load.accepted * 1000 if self.load.accepted else 0.0

    def latency(self, q: float) -> float:
        """Seconds from the end of DATA to the 250, quantile q (nan without samples)."""
        return percentile(self.load.dot_to_250, q)


def shop_message(size: int) -> str:
    """A shop notification of about `size` bytes with a Date and a Message-ID, as shop mailers
    write them (without, Postfix and the relay add their own; Postfix adds the Message-ID
    after OpenDKIM signed). bench.lib.loadgen puts a number unique per message in place of SEQ.
    """
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    extra = f"Date: {stamp}\nMessage-ID: <order-10042.{SEQ}@shop.example.com>\n"
    return extra + message_text(max(size - len(extra), 1))


def warm_up(system: System, port: Port, load: Load, sink: Sink) -> None:
    """Not measured: small messages through the same kind of load (spawns workers and
    smtpd processes, opens caches), all delivered."""
    base = sink.count
    load.start(port, shop_message(2400))
    result = load.go(port)
    if result.failures:
        raise RuntimeError(f"warm-up of {system.name}: {result.failures[:3]}")
    if not wait_for(lambda: sink.count - base >= result.accepted, 60, 0.05):
        raise RuntimeError(f"warm-up: only {sink.count - base}/{result.accepted} delivered")
    system.warmed += result.accepted


def measure(
    mode: str,
    system: System,
    round_: int,
    size: int,
    load: Load,
    warm_load: Load,
    sink: Sink,
    sink_side: list[int],
    quiet: tuple[float, float],
) -> Run:
    """Start the system, warm it up, wait for a quiet machine, run the load, wait for the
    sink; the system is stopped again (the relay) or kept (Postfix)."""
    port = system.start()
    try:
        warm_up(system, port, warm_load, sink)
        roots = system.roots
        idle_rss = TreeMonitor(roots).start().stop().peak_rss
        load_before = wait_quiet(*quiet)
        load.start(port, shop_message(size))
        split = sorted(sessions_by_process(roots, port).values(), reverse=True)
        base = sink.count
        groups = {"system": roots, "load": load.pids, "sink": pids(*sink_side)}
        database = getattr(system, "database_roots", list)  # the relay on PostgreSQL
        groups["database"] = database
        monitor = GroupMonitor({**groups, "ours": pids(os.getpid())}, memory=["system"]).start()
        machine = SystemCpu().start()
        started = time.perf_counter()
        result = load.go(port)
        backlog = result.accepted - (sink.count - base)
        timeout = 60 + result.accepted * max(size, 2400) / 2400 / 20
        done = wait_for(lambda: sink.count - base >= result.accepted, timeout, 0.01)
        after = time.perf_counter() - started
        busy = machine.stop()
        used = monitor.stop()
        used["system"].cpu_seconds += used["database"].cpu_seconds  # PostgreSQL's work
        # Every process of the benchmark is in our own tree (the systems, the load generator,
        # the sink side, this process and its monitor); the rest of the machine is noise.
        inside = used["ours"].cpu_seconds + used["database"].cpu_seconds
        run = Run(
            mode=mode,
            system=system.name,
            round=round_,
            size=size,
            load=result,
            delivered_after=after if done else float("inf"),
            delivered=sink.count - base,
            backlog=backlog,
            usage=used["system"],
            load_usage=used["load"],
            sink_usage=used["sink"],
            other_cpu=max(0.0, busy - inside),
            load_before=load_before,
            idle_rss=idle_rss,
            sessions_per_worker=split,
        )
        if not done:
            run.notes.append(f"only {run.delivered}/{result.accepted} delivered in {timeout:.0f} s")
        run.notes += result.failures[:3]
        run.notes += system.check(result.accepted)
        return run
    finally:
        load.stop()
        system.stop()
