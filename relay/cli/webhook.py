"""`relay shop webhook SHOP [--url URL] [--events ...] [--rotate-secret] [--remove]`."""

from __future__ import annotations

import asyncio

import click

from relay.actions import webhooks as actions
from relay.actions.errors import ActionError, NotFound, transaction_write
from relay.cli.common import State, emit, json_option, pass_state, when
from relay.keys import load_secret
from relay.store.outbox import deliveries


def _deps(state: State) -> actions.WebhookDeps:
    from relay.webhooks.running import webhook_deps

    config = state.config
    try:
        secret = load_secret(config.data_dir)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    return webhook_deps(config, lambda: state.conn, transaction_write(state.db), secret)


def _events(values: tuple[str, ...]) -> list[str] | None:
    """--events a,b --events c -> [a, b, c]; None when not given."""
    found = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return found or None


@click.command("webhook")
@click.argument("shop")
@click.option(
    "--url", metavar="URL", help="Where events are POSTed (https://; checked against SSRF rules)."
)
@click.option(
    "--events",
    "events",
    multiple=True,
    metavar="TYPE[,TYPE]",
    help=f"Event types to send (default: all): {', '.join(actions.EVENT_TYPES)}.",
)
@click.option("--rotate-secret", is_flag=True, help="Make a new signing secret (shown once).")
@click.option("--remove", is_flag=True, help="Remove the endpoint; events waiting are dropped.")
@json_option
@pass_state
def webhook(
    state: State,
    shop: str,
    url: str | None,
    events: tuple[str, ...],
    rotate_secret: bool,
    remove: bool,
    as_json: bool,
) -> None:
    """A shop's webhook endpoint: show it, or set its URL and event types. The signing secret
    (Standard Webhooks, whsec_...) is printed once, when it is made."""
    wanted = _events(events)
    if remove and (url or wanted or rotate_secret):
        raise click.UsageError("--remove takes no other option")
    deps = _deps(state)
    try:
        if remove:
            dropped = asyncio.run(actions.remove_webhook(deps, shop))
            click.echo(
                f"webhook endpoint of shop {shop} removed ({dropped} waiting event(s) dropped)"
            )
            return
        if url is None and wanted is None and not rotate_secret:
            _show(state, shop, as_json)
            return
        saved = asyncio.run(
            actions.set_webhook(deps, shop, url=url, events=wanted, rotate_secret=rotate_secret)
        )
    except ActionError as exc:
        if isinstance(exc, NotFound) or exc.field is None or exc.code == "webhook-url-dns":
            raise click.ClickException(exc.detail) from None  # exit 1: DNS down is no usage error
        raise click.BadParameter(exc.detail, param_hint=f"--{exc.field}") from None
    data = {**saved.view.as_dict(), "secret": saved.secret}
    emit(data, as_json, _render)


def _show(state: State, shop: str, as_json: bool) -> None:
    view = actions.show_webhook(state.conn, shop)
    if view is None:
        raise click.ClickException(
            f"shop {shop!r} has no webhook endpoint; set one with"
            f" `relay shop webhook {shop} --url https://...`"
        )
    data = {**view.as_dict(), "recent": deliveries(state.conn, shop, 10)}
    emit(data, as_json, _render)


def _render(data: dict) -> None:
    state = "active" if data["active"] else f"DISABLED: {data['disabled_why']}"
    click.echo(f"url: {data['url']}  ({state})")
    click.echo(f"events: {', '.join(data['events'])}")
    if data.get("secret"):
        click.echo(f"signing secret (shown once, keep it safe): {data['secret']}")
    if data["previous_secret_expires_at"]:
        click.echo(
            f"the previous secret signs too until {when(data['previous_secret_expires_at'])}"
        )
    click.echo(f"waiting: {data['pending']}")
    if data["last_error"]:
        click.echo(f"last error ({when(data['last_error_at'])}): {data['last_error']}")
    for row in data.get("recent", []):
        click.echo(
            f"  {when(row['created_at'])} {row['type']} {row['state']}"
            f" ({row['attempts']} POST(s)){': ' + row['last_error'] if row['last_error'] else ''}"
        )
