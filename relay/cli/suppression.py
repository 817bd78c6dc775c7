"""`relay blocks list/add/remove` and `relay optouts list/remove`."""

import click

from relay.cli.common import State, emit, json_option, pass_state, table, when
from relay.store import suppression as store


@click.group()
def blocks() -> None:
    """Addresses no shop sends to (spam complaints, dead addresses, admin blocks)."""


@blocks.command("list")
@json_option
@pass_state
def blocks_list(state: State, as_json: bool) -> None:
    """Every block: when, why and from which report."""
    rows = [b.__dict__ for b in store.list_blocks(state.conn)]
    emit(
        rows,
        as_json,
        lambda data: table(
            [
                [r["address"], when(r["created_at"]), r["reason"], r["source"], r["note"]]
                for r in data
            ],
            ["address", "since", "reason", "source", "note"],
        ),
    )


@blocks.command("add")
@click.argument("address")
@click.option("--note", default="", help="Why (kept with the block).")
@pass_state
def blocks_add(state: State, address: str, note: str) -> None:
    """Block an address for every shop."""
    if "@" not in address:
        raise click.BadParameter(f"{address!r} is not an e-mail address")
    with state.transaction() as tx:
        added = store.add_block(tx, address, "admin", "admin", note)
    if added:
        click.echo(f"blocked {address.lower()}")
    else:
        click.echo(f"{address.lower()} was already blocked")


@blocks.command("remove")
@click.argument("address")
@click.option("--note", default="", help="Why (recorded in the event log).")
@pass_state
def blocks_remove(state: State, address: str, note: str) -> None:
    """Remove a block; later messages to the address are sent again."""
    with state.transaction() as tx:
        removed = store.remove_block(tx, address, note)
    if not removed:
        raise click.ClickException(f"{address} is not blocked; `relay blocks list` shows blocks")
    click.echo(f"unblocked {address.lower()}")


@click.group()
def optouts() -> None:
    """Customers' opt-outs of optional notification kinds."""


@optouts.command("list")
@click.option("--shop", help="Only this shop.")
@click.option("--address", help="Only this address.")
@json_option
@pass_state
def optouts_list(state: State, shop: str | None, address: str | None, as_json: bool) -> None:
    """Opt-outs: shop, address, kind, since when and how."""
    rows = [o.__dict__ for o in store.list_optouts(state.conn, shop, address)]
    emit(
        rows,
        as_json,
        lambda data: table(
            [
                [r["shop"], r["address"], r["kind"], when(r["created_at"]), r["source"]]
                for r in data
            ],
            ["shop", "address", "kind", "since", "source"],
        ),
    )


@optouts.command("remove")
@click.option("--shop", required=True)
@click.option("--address", required=True)
@click.option("--kind", required=True)
@click.option("--reason", required=True, help="Why an admin removes it (recorded).")
@pass_state
def optouts_remove(state: State, shop: str, address: str, kind: str, reason: str) -> None:
    """Remove an opt-out (admin only, with a recorded reason)."""
    with state.transaction() as tx:
        removed = store.remove_optout(tx, shop, address, kind, reason)
    if not removed:
        raise click.ClickException("no such opt-out; `relay optouts list` shows them")
    click.echo(f"removed opt-out of {address} from {kind} at {shop}")


COMMANDS = [blocks, optouts]
