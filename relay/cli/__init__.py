"""The `relay` command line. Every read command takes --json."""

import importlib
import warnings

import click

from relay import logs
from relay.cli.common import State

# Command modules are imported when their command runs: `relay serve`'s supervisor and quick
# read commands should not load aiohttp, pyspf and the bounce parsers they never use.
_COMMANDS = {
    "init": "init",
    "serve": "serve",
    "stop": "serve",
    "sink": "sink",
    "shop": "shops",
    "messages": "messages",
    "message": "messages",
    "status": "status",
    "blocks": "suppression",
    "optouts": "suppression",
    "queue": "queue",
    "dns": "dns",
    "bounces": "bounces",
    "test-email": "test_email",
    "preview": "preview",
    "db": "db",
    "nodes": "nodes",
    "problems": "problems",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        loaded = importlib.import_module(f"relay.cli.{module}")
        return next(c for c in loaded.COMMANDS if c.name == cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="relay.toml to use (default: $RELAY_CONFIG, else ./relay.toml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Self-hosted mail relay for online shops: submission, DKIM, delivery, bounces."""
    logs.setup(verbose=verbose)  # `relay serve` sets it again with its format and worker
    # aiosmtpd warns per connection ("AUTH without TLS" on the implicit-TLS port, where the
    # whole session is TLS).
    warnings.filterwarnings("ignore", module="aiosmtpd")
    ctx.obj = State(config_path, verbose)
