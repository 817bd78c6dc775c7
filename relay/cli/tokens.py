"""`relay shop token create|list|revoke SHOP`: API tokens (shown once, stored hashed)."""

from __future__ import annotations

import asyncio

import click

from relay.actions import tokens as actions
from relay.actions.errors import ActionError, NotFound, transaction_write
from relay.cli.common import State, emit, json_option, pass_state, table, when


def _failed(exc: ActionError) -> click.ClickException:
    if isinstance(exc, NotFound) or exc.field is None:
        return click.ClickException(exc.detail)
    return click.BadParameter(exc.detail, param_hint=f"--{exc.field}")


@click.group("token")
def token() -> None:
    """API tokens of a shop: `Authorization: Bearer <token>` on /api/v1/."""


@token.command("create")
@click.argument("shop")
@click.option("--name", help="What the token is for (e.g. the shop system); default: its id.")
@json_option
@pass_state
def create(state: State, shop: str, name: str | None, as_json: bool) -> None:
    """Make a token; it is printed once and stored only as a hash."""
    try:
        made = asyncio.run(
            actions.create_token(state.conn, transaction_write(state.db), shop, name or "")
        )
    except ActionError as exc:
        raise _failed(exc) from None
    emit(
        {**made.info.as_dict(), "token": made.token},
        as_json,
        lambda d: click.echo(
            f"token {d['id']} ({d['name']}) for shop {shop} (shown once, keep it safe):\n"
            f"  {d['token']}\nuse it as: Authorization: Bearer {d['token'][:12]}..."
        ),
    )


@token.command("list")
@click.argument("shop")
@json_option
@pass_state
def list_(state: State, shop: str, as_json: bool) -> None:
    """A shop's tokens (never the tokens themselves): id, name, created, last used, revoked."""
    try:
        found = actions.list_tokens(state.conn, shop)
    except ActionError as exc:
        raise _failed(exc) from None
    emit(
        [t.as_dict() for t in found],
        as_json,
        lambda rows: table(
            [
                [
                    r["id"],
                    r["name"],
                    when(r["created_at"]),
                    when(r["last_used_at"]),
                    "revoked " + when(r["revoked_at"]) if r["revoked_at"] else "active",
                ]
                for r in rows
            ],
            ["id", "name", "created", "last used", "state"],
        ),
    )


@token.command("revoke")
@click.argument("shop")
@click.argument("token_id", metavar="TOKEN")
@json_option
@pass_state
def revoke(state: State, shop: str, token_id: str, as_json: bool) -> None:
    """Revoke a token by its id (or the name of an active one): it stops working at once."""
    try:
        info = asyncio.run(
            actions.revoke_token(state.conn, transaction_write(state.db), shop, token_id)
        )
    except ActionError as exc:
        raise _failed(exc) from None
    emit(
        info.as_dict(),
        as_json,
        lambda d: click.echo(f"token {d['id']} ({d['name']}) of shop {shop} revoked"),
    )
