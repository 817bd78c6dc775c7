"""`relay queue list/retry/flush`."""

import click

from relay.cli.common import State, emit, json_option, pass_state, table, when
from relay.model import State as RecipientState
from relay.store.queue import queue_rows
from relay.store.recipients import flush_all, retry_now

STATES = [str(s) for s in RecipientState]
_NOT_FINAL = tuple(
    str(s)
    for s in (
        RecipientState.QUEUED,
        RecipientState.INFLIGHT,
        RecipientState.DEFERRED,
        RecipientState.QUARANTINED,
    )
)


@click.group()
def queue() -> None:
    """The delivery queue: what waits, and retrying it now."""


@queue.command("list")
@click.option(
    "--state",
    "wanted",
    type=click.Choice(STATES),
    help="Only this state (default: all not final).",
)
@json_option
@pass_state
def list_(state: State, wanted: str | None, as_json: bool) -> None:
    """Recipients still in the queue, with their next try and last error."""
    states = (wanted,) if wanted else _NOT_FINAL
    rows = queue_rows(state.conn, states)
    emit(
        rows,
        as_json,
        lambda data: table(
            [
                [
                    r["message"],
                    r["address"],
                    r["state"],
                    r["attempts"],
                    when(r["next_attempt_at"]),
                    _last_reply(r),
                ]
                for r in data
            ],
            ["message", "recipient", "state", "tries", "next try", "last reply"],
        ),
    )


def _last_reply(row: dict) -> str:
    parts = (row["last_code"], row["last_status"], row["last_text"])
    return " ".join(str(p) for p in parts if p)


@queue.command("retry")
@click.argument("message_id", required=False)
@click.option("--all-deferred", is_flag=True, help="Every deferred recipient.")
@pass_state
def retry(state: State, message_id: str | None, all_deferred: bool) -> None:
    """Retry one message's deferred or quarantined recipients now (or --all-deferred)."""
    if bool(message_id) == all_deferred:
        raise click.UsageError("give a message ID or --all-deferred (not both)")
    with state.transaction() as conn:
        if all_deferred:
            count = retry_now(conn, every_deferred=True)
        else:
            count = retry_now(conn, message=(message_id or "").upper())
    if count == 0:
        raise click.ClickException("nothing to retry: no deferred or quarantined recipient matches")
    click.echo(f"{count} recipient(s) queued for an immediate try")


@queue.command("flush")
@pass_state
def flush(state: State) -> None:
    """Retry everything waiting now: deferred recipients, and queued ones whose next try is
    later (given back after a crash)."""
    with state.transaction() as conn:
        count = flush_all(conn)
    click.echo(f"{count} deferred or waiting recipient(s) queued for an immediate try")


COMMANDS = [queue]
