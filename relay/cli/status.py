"""`relay status`: queue health at a glance."""

import click

from relay.cli.common import State, emit, json_option, pass_state, when
from relay.delivery.queue import next_due
from relay.shop_health import describe_change, identity_changes, shop_health
from relay.store.messages import state_counts
from relay.store.schema import STATES
from relay.store.shops import list_shops


@click.command()
@json_option
@pass_state
def status(state: State, as_json: bool) -> None:
    """Counts per state, oldest deferred, next retry, shops with warnings, recent failures."""
    conn = state.conn
    counts = {name: 0 for name in STATES} | state_counts(conn)
    oldest = conn.execute(
        "SELECT r.id, r.address, r.message, r.created_at, r.last_text FROM recipients r"
        " WHERE state = 'deferred' ORDER BY created_at LIMIT 1"
    ).fetchone()
    next_retry = next_due(conn)
    failures = conn.execute(
        "SELECT r.message, r.address, r.state, r.reason, r.last_status, r.last_text,"
        " r.detail, r.updated_at FROM recipients r WHERE state IN ('bounced', 'failed')"
        " ORDER BY updated_at DESC LIMIT 5"
    ).fetchall()
    quarantined = conn.execute(
        "SELECT message, address, detail FROM recipients WHERE state = 'quarantined' LIMIT 5"
    ).fetchall()
    shops = [shop_health(conn, s).as_dict() for s in list_shops(conn)]
    data = {
        "counts": counts,
        "oldest_deferred": dict(oldest) if oldest else None,
        "next_retry_at": next_retry,
        "shops_with_warnings": [s for s in shops if s["warnings"]],
        "recent_failures": [dict(r) for r in failures],
        "quarantined": [dict(r) for r in quarantined],
        "identity_changes": identity_changes(conn, None, limit=10),
    }
    emit(data, as_json, _render)


def _render(data: dict) -> None:
    click.echo("recipients: " + "  ".join(f"{k} {v}" for k, v in data["counts"].items()))
    oldest = data["oldest_deferred"]
    if oldest:
        click.echo(
            f"oldest deferred: {oldest['address']} (message {oldest['message']}, since "
            f"{when(oldest['created_at'])}): {oldest['last_text']}"
        )
    click.echo(f"next retry: {when(data['next_retry_at'])}")
    for shop in data["shops_with_warnings"]:
        for warning in shop["warnings"]:
            click.echo(f"WARNING shop {shop['shop']}: {warning}")
    for change in data["identity_changes"]:
        click.echo(f"shop {change['shop']}: {describe_change(change)}")
    for row in data["quarantined"]:
        click.echo(
            f"QUARANTINED {row['message']} {row['address']}: "
            f"{((row['detail'] or '').splitlines() or [''])[-1]}  (relay queue retry ID)"
        )
    if data["recent_failures"]:
        click.echo("recent failures:")
        for row in data["recent_failures"]:
            click.echo(
                f"  {when(row['updated_at'])} {row['message']} {row['address']} "
                f"{row['state']} {row['reason'] or ''} {row['last_status'] or ''} "
                f"{row['last_text'] or row['detail'] or ''}"
            )


COMMANDS = [status]
