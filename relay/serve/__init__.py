"""`relay serve`: a supervisor and one worker process per core, or one process.

Each worker runs every listener (SO_REUSEPORT shares the ports), signs in-process, commits
through its own group-commit writer and delivers what it claims; SQLite (WAL) is the shared
queue, and claims are atomic across processes. Python runs one thread at a time per process,
so processes are how the relay uses both cores.

Start-up lines are logged once, by the process that answers for the whole relay (the
supervisor, or the single process): what listens where, how mail leaves, `relay ready`.
"""

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from config import Config
from relay.daemon import PidFile, signal_ready
from relay.serve.loop import run as run_loop
from relay.serve.role import WorkerRole
from relay.unsubscribe import public_url_warning

log = logging.getLogger("relay")


def worker_count(config: Config) -> int:
    return config.relay.workers or max(1, min(os.cpu_count() or 1, 8))


def pid_path(config: Config) -> Path:
    return config.data_dir / "relay.pid"


def log_path(config: Config) -> Path:
    """Where `relay serve --detach` writes its log."""
    return config.data_dir / "relay.log"


def run(
    config: Config,
    worker: int | None = None,
    ready_fd: int | None = None,
    worker_args: tuple[str, ...] = (),
) -> None:
    """Entry of `relay serve`: a supervisor with workers, or a single process.

    `ready_fd` gets one byte once the whole relay serves; `worker_args` are passed on to the
    workers' command line (log format, verbosity). Raises SetupError when another process holds
    a listen address, OSError when a listener cannot open, supervisor.StartupFailed when a
    worker could not start.
    """
    count = worker_count(config)
    if worker is not None:  # started by the supervisor, which holds the addresses
        run_loop(serve(config, WorkerRole(worker, count), ready_fd), config.relay.event_loop)
        return
    from relay.serve.ports import claimed

    pid_file = PidFile(pid_path(config))

    def ready() -> None:
        announce(config, count)
        pid_file.write()
        signal_ready(ready_fd)

    try:
        with claimed(config):  # a second relay on these addresses stops here, naming the first
            if count == 1:
                from relay.serve.node import NodeRun

                node = NodeRun(config, 1)  # the node lock, its dead leases, its registration
                node.start()
                try:
                    run_loop(
                        serve(config, WorkerRole(0, 1), on_ready=ready), config.relay.event_loop
                    )
                finally:
                    node.stop()
            else:
                from relay.serve.supervisor import Supervisor

                Supervisor(config, count, worker_args).run(on_ready=ready)
    finally:
        pid_file.remove()


def announce(config: Config, count: int) -> None:
    """The start-up lines, once for the whole relay."""
    for address in config.submission.listen:
        log.info("submission (STARTTLS) listening on %s", address)
    for address in config.submission.listen_tls:
        log.info("submission (implicit TLS) listening on %s", address)
    for address in config.inbound.listen:
        log.info("bounce listener listening on %s", address)
    log.info(
        "http (unsubscribe, API, console, /healthz, /metrics; worker 0) listening on %s",
        config.http.listen,
    )
    warning = public_url_warning(config.http.public_url)
    if warning:  # RFC 8058 3.1: one-click needs HTTPS (issue 13 item 8)
        log.warning("%s", warning)
    log.info("delivery: %s", delivery_route(config))
    log.info(
        "relay ready (%d worker%s, event loop %s)",
        count,
        "" if count == 1 else "s",
        config.relay.event_loop,
    )


def delivery_route(config: Config) -> str:
    delivery = config.delivery
    if delivery.relayhost:
        mode = delivery.relayhost_tls
        if delivery.relayhost_auth and mode == "may":
            mode = "encrypt"  # as relayhost_from: credentials never go in clear (RFC 4954 4)
        auth = ", AUTH" if delivery.relayhost_auth else ""
        return f"all mail through the relayhost {delivery.relayhost} (TLS {mode}{auth})"
    return f"to each recipient domain's MX hosts on port {delivery.smtp_port}"


async def serve(
    config: Config,
    role: WorkerRole,
    ready_fd: int | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """One worker (or the single process): run until SIGTERM/SIGINT."""
    from relay.serve.service import Service

    service = Service(config, role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    log.debug("worker %d of %d ready", role.index, role.count)
    signal_ready(ready_fd)  # to the supervisor (see supervisor.py: readiness)
    if on_ready is not None:
        on_ready()
    await stop.wait()
    alone = role.count == 1  # with a supervisor, it says this once for all workers
    log.log(logging.INFO if alone else logging.DEBUG, "stopping: finishing work in flight")
    await service.stop()
    log.log(logging.INFO if alone else logging.DEBUG, "stopped")
