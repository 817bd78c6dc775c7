"""`relay messages` (history, one row per recipient) and `relay message show ID`."""

import time

import click

from config import parse_duration
from relay.cli.common import State, emit, json_option, pass_state, table, when
from relay.cli.describe import attempt_line, event_line
from relay.history import body as message_body
from relay.history import message as message_view
from relay.history import rows as history
from relay.model import State as RecipientState
from relay.store.shops import name_taken

STATES = [str(s) for s in RecipientState]

_UNSETTLED = ("queued", "inflight")  # still to be sent: what --wait waits for


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--shop", help="Only this shop.")
@click.option("--order", help="Only this order (X-Relay-Order).")
@click.option("--to", "to", help="Only this recipient address.")
@click.option("--status", type=click.Choice(STATES), help="Only recipients in this state.")
@click.option("--limit", default=200, show_default=True, help="At most this many rows.")
@click.option(
    "--wait",
    metavar="DURATION",
    callback=_duration,
    help="First wait (e.g. 30s) until no listed recipient is still waiting to be sent.",
)
@json_option
@pass_state
def messages(
    state: State,
    shop: str | None,
    order: str | None,
    to: str | None,
    status: str | None,
    limit: int,
    wait: float | None,
    as_json: bool,
) -> None:
    """Message history, one row per recipient, newest first, with what happened."""
    if shop and not name_taken(state.conn, shop):  # a removed shop's history stays readable
        raise click.ClickException(f"no shop {shop!r}; `relay shop list` shows the shops")
    rows = history(state.conn, shop=shop, order=order, to=to, status=status, limit=limit)
    deadline = time.monotonic() + (wait or 0)
    while any(r["state"] in _UNSETTLED for r in rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = history(state.conn, shop=shop, order=order, to=to, status=status, limit=limit)
    emit(
        rows,
        as_json,
        lambda data: table(
            [
                [
                    when(r["created_at"]),
                    r["message"],
                    r["shop"],
                    r["order_ref"] or "-",
                    r["kind"],
                    (r["subject"] or "")[:30],
                    r["recipient"],
                    r["status"],
                    r["explanation"],
                ]
                for r in data
            ],
            [
                "time",
                "id",
                "shop",
                "order",
                "kind",
                "subject",
                "recipient",
                "status",
                "what happened",
            ],
        ),
    )


@click.group()
def message() -> None:
    """One message."""


@message.command("show")
@click.argument("message_id")
@click.option("--full", is_flag=True, help="Print the whole text, not the first 4,000 chars.")
@json_option
@pass_state
def show(state: State, message_id: str, full: bool, as_json: bool) -> None:
    """Headers, recipients with every attempt and its reply, and every event."""
    view = message_view(state.conn, message_id.upper())
    if view is None:
        raise click.ClickException(f"no message {message_id!r}; `relay messages` lists them")
    data = view.as_record()
    body = message_body(state.conn, view.id)
    # Lines as a terminal shows them (CRLF would print as an escaped CR after each line).
    head, _, text = body.partition(b"\r\n\r\n")
    data["headers"] = head.decode("utf-8", "replace").replace("\r\n", "\n")
    data["text"] = text.decode("utf-8", "replace").replace("\r\n", "\n")
    emit(data, as_json, lambda d: _render(d, full), multiline=("headers", "text"))


def _render(data: dict, full: bool) -> None:
    click.echo(
        f"message {data['id']}  shop {data['shop']}  order {data['order_ref'] or '-'}  "
        f"kind {data['kind']}  identity {data['identity']} (d={data['dkim_domain']})"
    )
    click.echo(
        f"accepted {when(data['created_at'])}  size {data['size']}  sha256 {data['body_sha256']}"
    )
    click.echo("\n" + data["headers"] + "\n")
    for rcpt in data["recipients"]:
        click.echo(f"to {rcpt['address']}: {rcpt['state']} - {rcpt['explanation']}")
        for att in rcpt["attempts_log"]:
            click.echo(f"    {attempt_line(att)}")
    click.echo("\nevents:")
    addresses = {r["id"]: r["address"] for r in data["recipients"]}
    for event in data["events"]:
        click.echo(f"  {event_line(event, addresses)}")
    if data.get("body_dropped_at"):
        click.echo(
            f"\nbody dropped {when(data['body_dropped_at'])} (store.retention); the proof"
            " of sending is kept"
        )
        return
    text = data["text"] if full else data["text"][:4000]
    click.echo("\n" + text + ("" if text == data["text"] else "\n[... --full shows the rest]"))


COMMANDS = [messages, message]
