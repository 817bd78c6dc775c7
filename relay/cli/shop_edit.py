"""`relay shop set` and `relay shop remove` (the actions are relay.actions.shops)."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import NoReturn

import click

from relay.actions import shops as actions
from relay.actions.errors import ActionError
from relay.cli.common import State, pass_state

# Which option an ActionError's field is about (for click's "Invalid value for '--x'").
OPTIONS = {
    "domain": "--domain",
    "sender": "--sender",
    "sender_name": "--sender-name",
    "language": "--language",
    "password": "--password",
}


def refuse(error: ActionError, options: dict[str, str] = OPTIONS) -> NoReturn:
    """A refused value is a usage error (exit 2) naming its option, as `shop add` does; any
    other refusal is exit 1."""
    option = options.get(error.field or "")
    if option:
        raise click.BadParameter(str(error), param_hint=option)
    raise click.ClickException(str(error))


@click.command("set")
@click.argument("name")
@click.option("--sender", help="Sender address: at one of the shop's domains.")
@click.option("--sender-name", help="Display name in From.")
@click.option("--language", type=click.Choice(["de", "en"]), help="The shop's language.")
@click.option("--domain", "add_domains", multiple=True, help="Add a sender domain (repeat).")
@click.option("--remove-domain", "remove_domains", multiple=True, help="Remove a domain.")
@click.option(
    "--password",
    is_flag=False,
    flag_value="",
    default=None,
    help="New SMTP password (at least 12 characters); alone: a new one is generated and shown.",
)
@pass_state
def set_shop(
    state: State,
    name: str,
    sender: str | None,
    sender_name: str | None,
    language: str | None,
    add_domains: tuple[str, ...],
    remove_domains: tuple[str, ...],
    password: str | None,
) -> None:
    """Change what `shop add` set; the next message (and the next AUTH) sees it."""
    asked = (sender, sender_name, language, password)
    if all(v is None for v in asked) and not add_domains and not remove_domains:
        raise click.UsageError("nothing to change: name at least one option (see --help)")
    try:
        update = actions.plan_update(
            state.conn,
            name,
            sender=sender,
            sender_name=sender_name,
            language=language,
            add_domains=add_domains,
            remove_domains=remove_domains,
            password=password or None,
            new_password=password == "",
        )
        with state.transaction() as tx:
            actions.apply_update(tx, update, time.time())
    except ActionError as error:
        refuse(error)
    if not update.changed:
        click.echo(f"shop {name}: nothing changed")
        return
    click.echo(f"shop {name}: changed {', '.join(update.changed)}")
    if update.new_password:
        click.echo(
            f"\nnew SMTP password (shown once):\n  username: {name}\n  password: "
            f"{update.new_password}\n"
        )
    if update.added_domains:
        from relay.cli.shops import print_records

        print_records(state, replace(update.shop, domains=update.added_domains))


@click.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask (asked only on a terminal).")
@pass_state
def remove_shop(state: State, name: str, yes: bool) -> None:
    """Remove a shop: its credentials stop at once, even for open sessions; history is kept
    until retention."""
    if not yes and sys.stdin.isatty():
        click.confirm(
            f"Remove shop {name}? Its SMTP credentials, DKIM key, design and templates are"
            " deleted at once; its history stays",
            abort=True,
        )
    try:
        with state.transaction() as tx:
            actions.remove(tx, name, time.time())
    except ActionError as error:
        refuse(error)
    click.echo(
        f"shop {name} removed: its credentials no longer work; its messages stay in the history"
        " until retention. Its DNS records can be deleted."
    )


COMMANDS = [set_shop, remove_shop]
