"""`relay serve`."""

import asyncio

import click

from relay.cli.common import State, pass_state


@click.command()
@pass_state
def serve(state: State) -> None:
    """Run every listener and the delivery workers; SIGTERM finishes work in flight."""
    from relay.serve import serve as run

    try:
        asyncio.run(run(state.config))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen: {exc}; check the addresses in relay.toml"
        ) from None


COMMANDS = [serve]
