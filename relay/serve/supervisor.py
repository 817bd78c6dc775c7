"""Start, watch and stop the worker processes of `relay serve`.

Workers die with the supervisor (PR_SET_PDEATHSIG), so a SIGKILL of `relay serve` leaves no
process behind that still listens or delivers; the next start gives back the leases this node
held (at-least-once delivery: those rows are due a retry interval after they were claimed). A
worker that dies after it was ready is restarted once its leases are given back. A worker
that exits before it is ready (a port taken, a bad certificate) is a fault no restart can
mend: the supervisor stops every worker and `relay serve` fails, instead of serving half the
relay (say, no unsubscribe pages and no DNS re-checks) while it retries.

Readiness: each worker inherits the write end of a pipe and writes one byte once every
listener of it is open; the end of the pipe without that byte means it never got there.
"""

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from config import Config
from relay.procs import die_with_parent
from relay.serve.node import NodeRun
from relay.store.db import Database
from relay.store.errors import StoreError
from relay.store.recipients import lease_owner, node_name, release_leases

log = logging.getLogger("relay")
_RESTART_DELAY = 1.0
_POLL_EVERY = 0.2


class StartupFailed(Exception):
    """A worker exited before it was ready; the message says which and how."""


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    ready_pipe: int | None  # read end, until the worker wrote its byte or exited
    ready: bool = False

    def close_pipe(self) -> None:
        if self.ready_pipe is not None:
            os.close(self.ready_pipe)
            self.ready_pipe = None


class Supervisor:
    def __init__(self, config: Config, count: int, worker_args: tuple[str, ...] = ()) -> None:
        self.config, self.count = config, count
        self.worker_args = worker_args  # passed on to each worker's `relay serve` (log format)
        self.workers: dict[int, Worker] = {}
        self.stopping = False
        self.announced = False
        self.node = node_name(config.store.node)
        self.db: Database
        self.on_ready: Callable[[], None] = lambda: None

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Run until SIGTERM/SIGINT; raises StartupFailed when a worker cannot start, and
        SetupError when the store cannot be opened, other users can read it, or another
        process runs as this node (relay.serve.node: it also gives back this node's dead
        leases before any worker starts). `on_ready` runs once, when every worker serves (the
        start-up lines, the pid file)."""
        if on_ready is not None:
            self.on_ready = on_ready
        self.run_state = NodeRun(self.config, self.count)
        self.db = self.run_state.start()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            for index in range(self.count):
                self._spawn(index)
            while not self.stopping:
                self._wait_for_readiness()
                self._reap()
        finally:
            self._stop_all()
            self.run_state.stop()

    def _spawn(self, index: int) -> None:
        read_end, write_end = os.pipe()
        command = [sys.executable, "-m", "relay", "--config", str(self.config.path)]
        command += ["-v"] if log.isEnabledFor(logging.DEBUG) else []
        command += ["serve", *self.worker_args, "--worker", str(index)]
        command += ["--ready-fd", str(write_end)]
        try:
            proc = subprocess.Popen(command, preexec_fn=die_with_parent, pass_fds=(write_end,))
        finally:
            os.close(write_end)  # the worker holds the only write end: EOF when it exits
        self.workers[index] = Worker(index, proc, read_end)

    def _wait_for_readiness(self) -> None:
        pipes = {w.ready_pipe: w for w in self.workers.values() if w.ready_pipe is not None}
        # select() with no descriptors is a plain sleep: the loop's pace once all are ready.
        readable, _, _ = select.select(list(pipes), [], [], _POLL_EVERY)
        for fd in readable:
            worker = pipes[fd]
            worker.ready = bool(os.read(fd, 1))  # b"": it exited without saying so
            worker.close_pipe()
        if not self.announced and all(w.ready for w in self.workers.values()):
            self.announced = True
            self.on_ready()

    def _reap(self) -> None:
        for index, worker in list(self.workers.items()):
            code = worker.proc.poll()
            if code is None or self.stopping:
                continue
            if not worker.ready:
                worker.close_pipe()
                raise StartupFailed(
                    f"worker {index} exited with {code} before it was ready"
                    " (its error is above); stopped every worker"
                )
            pid = worker.proc.pid
            log.error("worker %d (pid %d) exited with %s; restarting it", index, pid, code)
            try:
                with self.db.transaction() as tx:
                    release_leases(tx, owner=lease_owner(self.node, index, pid))
            except StoreError as exc:  # its leases expire; another claims them
                log.error("could not give back the leases of worker %d: %s", index, exc)
            time.sleep(_RESTART_DELAY)
            if not self.stopping:
                self._spawn(index)

    def _stop(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        """SIGTERM every worker still running (each finishes work in flight), then wait."""
        if self.announced:
            log.info("stopping: finishing work in flight")
        for worker in self.workers.values():
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        for worker in self.workers.values():
            worker.proc.wait()
            worker.close_pipe()
        if self.announced:
            log.info("stopped")
