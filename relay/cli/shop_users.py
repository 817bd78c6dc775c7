"""`relay shop user add|list|remove SHOP [EMAIL]`: console users of a shop (besides the shop's
own log-in with its SMTP credentials). Passwords are generated and printed once."""

from __future__ import annotations

import asyncio

import click

from relay.actions import console_users as actions
from relay.actions.errors import ActionError, NotFound, transaction_write
from relay.cli.common import State, emit, json_option, pass_state, table, when


def _failed(exc: ActionError) -> click.ClickException:
    # A malformed address is a usage error (exit 2); anything else (no such shop or user, a
    # user that exists already) is exit 1.
    if isinstance(exc, NotFound) or exc.field != "email" or exc.code != "invalid":
        return click.ClickException(exc.detail)
    return click.BadParameter(exc.detail, param_hint="EMAIL")


@click.group("user")
def user() -> None:
    """Console users of a shop: they log in to the shop console at /console/ with the shop's
    name, their e-mail address and their password."""


@user.command("add")
@click.argument("shop")
@click.argument("email")
@click.option(
    "--new-password", is_flag=True, help="Give an existing user a new password (its sessions end)."
)
@json_option
@pass_state
def add(state: State, shop: str, email: str, new_password: bool, as_json: bool) -> None:
    """Add a console user; its password is generated and printed once (stored only as a
    hash)."""
    try:
        made = asyncio.run(
            actions.add_user(
                state.conn, transaction_write(state.db), shop, email, new_password=new_password
            )
        )
    except ActionError as exc:
        raise _failed(exc) from None
    what = "console user added" if made.created else "new password"
    emit(
        {**made.user.as_dict(), "password": made.password},
        as_json,
        lambda d: click.echo(
            f"{what} for shop {shop} (shown once, pass it on safely):\n"
            f"  shop:     {shop}\n  e-mail:   {d['email']}\n  password: {d['password']}\n"
            f"log in at {state.config.http.public_url.rstrip('/')}/console/"
        ),
    )


@user.command("list")
@click.argument("shop")
@json_option
@pass_state
def list_(state: State, shop: str, as_json: bool) -> None:
    """A shop's console users (never their passwords): e-mail, created, last log-in."""
    try:
        found = actions.list_users(state.conn, shop)
    except ActionError as exc:
        raise _failed(exc) from None
    emit(
        [u.as_dict() for u in found],
        as_json,
        lambda rows: table(
            [[r["email"], when(r["created_at"]), when(r["last_login_at"])] for r in rows],
            ["e-mail", "created", "last log-in"],
        ),
    )


@user.command("remove")
@click.argument("shop")
@click.argument("email")
@pass_state
def remove(state: State, shop: str, email: str) -> None:
    """Remove a console user: its open sessions end at once."""
    try:
        gone = asyncio.run(
            actions.remove_user(state.conn, transaction_write(state.db), shop, email)
        )
    except ActionError as exc:
        raise _failed(exc) from None
    click.echo(f"console user {gone.email} of shop {shop} removed; its sessions have ended")


COMMANDS = [user]
