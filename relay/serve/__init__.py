"""`relay serve`: a supervisor and one worker process per core, or one process.

Each worker runs every listener (SO_REUSEPORT shares the ports), signs in-process, commits
through its own group-commit writer and delivers what it claims; SQLite (WAL) is the shared
queue, and claims are atomic across processes. Python runs one thread at a time per process,
so processes are how the relay uses both cores.
"""

import asyncio
import logging
import os
import signal

from config import Config
from relay.serve.role import WorkerRole

log = logging.getLogger("relay")


def worker_count(config: Config) -> int:
    return config.relay.workers or max(1, min(os.cpu_count() or 1, 8))


def run(config: Config, worker: int | None = None, ready_fd: int | None = None) -> None:
    """Entry of `relay serve`: a supervisor with workers, or a single process.

    Raises OSError when a listener cannot open, supervisor.StartupFailed when a worker
    could not start.
    """
    count = worker_count(config)
    if worker is not None:
        asyncio.run(serve(config, WorkerRole(worker, count), ready_fd))
    elif count == 1:
        from relay.serve.node import NodeRun

        node = NodeRun(config, 1)
        node.start()
        try:
            asyncio.run(serve(config, WorkerRole(0, 1)))
        finally:
            node.stop()
    else:
        from relay.serve.supervisor import Supervisor

        Supervisor(config, count).run()


async def serve(config: Config, role: WorkerRole, ready_fd: int | None = None) -> None:
    from relay.serve.service import Service

    service = Service(config, role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    if role.count > 1:
        log.info("worker %d of %d ready", role.index + 1, role.count)
    else:
        log.info("relay ready")
    if ready_fd is not None:  # tell the supervisor (see supervisor.py: readiness)
        os.write(ready_fd, b"r")
        os.close(ready_fd)
    await stop.wait()
    log.info("stopping: finishing work in flight")
    await service.stop()
    log.info("stopped")
