"""`relay serve` (in the foreground or `--detach`ed) and `relay stop`."""

import errno
import logging
import sys

import click

from relay import logs
from relay.cli.common import State, pass_state


@click.command()
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS),
    default="text",
    show_default=True,
    help="text: key=value lines; json: one JSON object per line.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="Run in the background: return once every listener is open, print the pid,"
    " log to <data_dir>/relay.log; `relay stop` stops it.",
)
@click.option("--worker", type=int, hidden=True, help="Run as worker N (set by the supervisor).")
@click.option("--ready-fd", type=int, hidden=True, help="Write one byte here once ready.")
@pass_state
def serve(
    state: State, log_format: str, detach: bool, worker: int | None, ready_fd: int | None
) -> None:
    """Run every listener and the delivery workers; SIGTERM finishes work in flight.

    With `relay.workers` above 1 (0: one per CPU core), a supervisor runs that many worker
    processes sharing the ports and the queue; it logs "relay ready" once every worker
    listens. A listener that cannot open (a port taken) stops the relay with exit status 1.
    The log has one line per accepted message, delivery attempt and bounce report.

    With store.url on PostgreSQL, several nodes (each a `relay serve` with its own
    store.node name and the same secret.key) share the queue; `relay nodes` lists them.
    Worker 0 serves HTTP (unsubscribe, /healthz, /metrics) and the periodic work, which one
    node at a time runs.
    """
    from relay.errors import SetupError
    from relay.serve import run, worker_count
    from relay.serve.supervisor import StartupFailed

    config = state.config
    if detach:
        _detach(state, log_format)
        return
    count = worker_count(config)
    tag = worker if worker is not None else (0 if count == 1 else logs.SUPERVISOR)
    logs.setup(log_format, worker=tag, verbose=state.verbose)
    logs.capture_uncaught()
    worker_args = ("--log-format", log_format)
    try:
        run(config, worker, ready_fd, worker_args=worker_args)
    except (StartupFailed, SetupError, FileNotFoundError) as exc:
        _fatal(str(exc))
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        _fatal(f"cannot listen: {exc}; check the addresses in relay.toml")


def _fatal(message: str) -> None:
    """The reason `relay serve` stops, as a log line like every other (tagged), exit 1."""
    logging.getLogger("relay").error(message)
    sys.exit(1)


def _detach(state: State, log_format: str) -> None:
    from relay.daemon import DaemonError, PidFile, running_pid, start_detached
    from relay.serve import log_path, pid_path

    config = state.config
    pid_file = PidFile(pid_path(config))
    running = running_pid(pid_file, b"serve")
    if running is not None:
        raise click.ClickException(f"relay serve runs already (pid {running}); `relay stop`")
    if not config.data_dir.is_dir():
        raise click.ClickException(f"{config.data_dir} does not exist: run `relay init`")
    command = [sys.executable, "-m", "relay", "--config", str(config.path)]
    command += ["-v"] if state.verbose else []
    command += ["serve", "--log-format", log_format]
    log = log_path(config)
    try:
        pid = start_detached(command, log)
    except DaemonError as exc:
        raise click.ClickException(f"relay serve {exc}") from None
    click.echo(f"relay serve is running as pid {pid} (log: {log}); `relay stop` stops it")


@click.command()
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for work in flight to finish.",
)
@pass_state
def stop(state: State, timeout: float) -> None:
    """Stop the `relay serve` of this relay.toml (SIGTERM: work in flight finishes first)."""
    from relay.daemon import PidFile, running_pid
    from relay.daemon import stop as stop_process
    from relay.serve import pid_path

    pid_file = PidFile(pid_path(state.config))
    pid = running_pid(pid_file, b"serve")
    if pid is None:
        raise click.ClickException(
            f"relay serve is not running (no live process in {pid_file.path})"
        )
    if not stop_process(pid, timeout):
        raise click.ClickException(
            f"relay serve (pid {pid}) is still finishing work in flight after {timeout:.0f} s;"
            f" wait, or `kill -9 {pid}` (unfinished deliveries are sent again at the next start)"
        )
    click.echo(f"relay serve (pid {pid}) stopped")


COMMANDS = [serve, stop]
