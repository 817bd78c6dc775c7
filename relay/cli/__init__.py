"""The `relay` command line. Every read command takes --json."""

import logging

import click

from relay.cli.common import State


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiosmtpd logs every command at INFO ("mail.log"): a sixth of a session's CPU.
    logging.getLogger("mail.log").setLevel(logging.DEBUG if verbose else logging.WARNING)
    ctx.obj = State(config_path)


def _register() -> None:
    from relay.cli import bounces, dns, init, messages, queue, serve, shops, status, suppression

    for module in (init, serve, shops, messages, status, suppression, queue, dns, bounces):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
