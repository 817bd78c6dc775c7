"""`relay sink --maildir DIR`: a capture SMTP server for trying the relay out."""

import asyncio
import errno
import ipaddress
import sys
from pathlib import Path

import click

from relay.sink import DEFAULT_LISTEN


@click.command()
@click.option(
    "--maildir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Deliver into this Maildir (created if missing).",
)
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="Run in the background: return once listening, print the pid; its lines go to"
    " DIR/sink.log, its pid to DIR/sink.pid.",
)
@click.option("--ready-fd", type=int, hidden=True, help="Write one byte here once listening.")
def sink(maildir: Path, listen: str, detach: bool, ready_fd: int | None) -> None:
    """Take every message and put it in a Maildir, printing one line per message.

    For trying the relay out: set `[delivery] relayhost` to the sink's address (or
    `relay init --relayhost 127.0.0.1:2526`) and read what a customer would get. No AUTH,
    no TLS, nothing is sent on.
    """
    host, port = _host_port(listen)
    maildir = maildir.resolve()
    if detach:
        _detach(maildir, listen)
        return
    from relay import logs
    from relay.daemon import PidFile, signal_ready
    from relay.sink import run_sink

    logs.setup(worker="sink")
    if not ipaddress.ip_address(host).is_loopback:
        click.echo(f"warning: {listen} is not loopback: anyone who reaches it can fill {maildir}")
    pid_file = PidFile(maildir / "sink.pid")

    def ready() -> None:
        pid_file.write()
        click.echo(f"sink listening on {listen}, delivering into {maildir}")
        signal_ready(ready_fd)

    try:
        asyncio.run(run_sink(host, port, maildir, ready))
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise click.ClickException(f"cannot listen on {listen}: {exc.strerror}") from None
        raise
    finally:
        pid_file.remove()


def _host_port(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        if not sep or not 0 < int(port) < 65536:
            raise ValueError(listen)
    except ValueError:
        raise click.BadParameter(
            f"{listen!r} is not an IP address and port, e.g. {DEFAULT_LISTEN}",
            param_hint="--listen",
        ) from None
    return host, int(port)


def _detach(maildir: Path, listen: str) -> None:
    from relay.daemon import DaemonError, start_detached

    maildir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "relay", "sink", "--maildir", str(maildir)]
    command += ["--listen", listen]
    try:
        pid = start_detached(command, maildir / "sink.log")
    except DaemonError as exc:
        raise click.ClickException(f"relay sink {exc}") from None
    click.echo(f"relay sink is listening on {listen} as pid {pid}; `kill {pid}` stops it")


COMMANDS = [sink]
