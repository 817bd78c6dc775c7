"""`relay serve`."""

import errno

import click

from relay.cli.common import State, pass_state


@click.command()
@click.option("--worker", type=int, hidden=True, help="Run as worker N (set by the supervisor).")
@click.option("--ready-fd", type=int, hidden=True, help="Write one byte here once ready.")
@pass_state
def serve(state: State, worker: int | None, ready_fd: int | None) -> None:
    """Run every listener and the delivery workers; SIGTERM finishes work in flight.

    With `relay.workers` above 1 (0: one per CPU core), a supervisor runs that many worker
    processes sharing the ports and the queue; it logs "relay ready" once every worker
    listens. A listener that cannot open (a port taken) stops the relay with exit status 1.
    """
    from relay.errors import SetupError
    from relay.serve import run
    from relay.serve.supervisor import StartupFailed

    try:
        run(state.config, worker, ready_fd)
    except (StartupFailed, SetupError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise click.ClickException(
                f"cannot listen: {exc}; check the addresses in relay.toml"
            ) from None
        raise


COMMANDS = [serve]
