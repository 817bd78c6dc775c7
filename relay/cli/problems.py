"""`relay problems list [--shop] [--all]`, `relay problems ack ID`: undeliverable mandatory
mail waiting for the shop to act."""

from __future__ import annotations

import asyncio

import click

from relay.actions import problems as actions
from relay.actions.errors import ActionError, transaction_write
from relay.cli.common import State, emit, json_option, pass_state, table, when
from relay.store.shops import name_taken


@click.group()
def problems() -> None:
    """Mandatory mail (payment info, reminders, dunning) that did not reach the customer."""


@problems.command("list")
@click.option("--shop", help="Only this shop.")
@click.option("--all", "include_acked", is_flag=True, help="Acknowledged ones too.")
@json_option
@pass_state
def list_(state: State, shop: str | None, include_acked: bool, as_json: bool) -> None:
    """Open problems, newest first: what happened, and that the shop must act."""
    if shop and not name_taken(state.conn, shop):  # a removed shop's problems stay readable
        raise click.ClickException(f"no shop {shop!r}; `relay shop list` shows the shops")
    found = actions.list_problems(state.conn, shop, include_acked=include_acked)
    emit(
        [p.as_dict() for p in found],
        as_json,
        lambda rows: table(
            [
                [
                    r["id"],
                    when(r["created_at"]),
                    r["shop"],
                    r["order"] or "-",
                    r["kind"],
                    r["recipient"],
                    r["text"] if r["open"] else f"acknowledged by {r['acked_by']}",
                ]
                for r in rows
            ],
            ["id", "time", "shop", "order", "kind", "recipient", "what happened"],
        ),
    )


@problems.command("ack")
@click.argument("problem_id", type=int, metavar="ID")
@json_option
@pass_state
def ack(state: State, problem_id: int, as_json: bool) -> None:
    """Acknowledge a problem (the shop reaches the customer another way); it leaves
    `relay status`."""
    try:
        view, changed = asyncio.run(
            actions.ack_problem(state.conn, transaction_write(state.db), problem_id, by="admin")
        )
    except ActionError as exc:
        raise click.ClickException(exc.detail) from None
    emit(
        view.as_dict(),
        as_json,
        lambda d: click.echo(
            f"problem {d['id']} acknowledged"
            if changed
            else f"problem {d['id']} was acknowledged already ({when(d['acked_at'])}"
            f" by {d['acked_by']})"
        ),
    )


COMMANDS = [problems]
