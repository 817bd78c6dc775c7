"""Start, watch and stop the worker processes of `relay serve`.

Workers die with the supervisor (PR_SET_PDEATHSIG), so a SIGKILL of `relay serve` leaves no
process behind that still listens or delivers; the next start requeues whatever was in flight
(at-least-once delivery). A worker that dies alone is restarted after its claims are requeued.
"""

import contextlib
import ctypes
import logging
import signal
import subprocess
import sys
import time

from config import Config
from relay.delivery.queue import release_claims
from relay.store.connection import connect, ensure_database

log = logging.getLogger("relay")
_PR_SET_PDEATHSIG = 1
_RESTART_DELAY = 1.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Supervisor:
    def __init__(self, config: Config, count: int) -> None:
        self.config, self.count = config, count
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def run(self) -> None:
        path = ensure_database(self.config.database_path)
        conn = connect(path)
        requeued = release_claims(conn)  # nobody runs yet: every claim is a dead one
        conn.close()
        if requeued:
            log.info("requeued %d recipients claimed by a process that stopped", requeued)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for index in range(self.count):
            self._spawn(index)
        while not self.stopping:
            self._reap()
            time.sleep(0.2)
        for worker in self.workers.values():
            worker.wait()

    def _spawn(self, index: int) -> None:
        command = [
            sys.executable,
            "-m",
            "relay",
            "--config",
            str(self.config.path),
            "serve",
            "--worker",
            str(index),
        ]
        self.workers[index] = subprocess.Popen(command, preexec_fn=_die_with_parent)

    def _reap(self) -> None:
        for index, worker in list(self.workers.items()):
            code = worker.poll()
            if code is None or self.stopping:
                continue
            log.error("worker %d (pid %d) exited with %s; restarting it", index, worker.pid, code)
            conn = connect(self.config.database_path)
            release_claims(conn, owner_pid=worker.pid)
            conn.close()
            time.sleep(_RESTART_DELAY)
            self._spawn(index)

    def _stop(self, signum: int, _frame: object) -> None:
        self.stopping = True
        for worker in self.workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
