"""`relay status`: queue health at a glance."""

import time

import click

from dns_checks import relay_dns_warnings
from relay.actions.problems import list_problems
from relay.cli.common import State, emit, json_option, pass_state, when
from relay.serve.periodic import REPORT_GRACE, REPORTS_EVERY
from relay.shop_health import describe_change, shop_health
from relay.stats import shop_rates
from relay.store import queue
from relay.store.dns_results import relay_dns
from relay.store.events import identity_changes
from relay.store.outbox import backlog
from relay.store.reports import waiting_reports
from relay.store.shops import list_shops
from relay.store.sql import Conn
from relay.store.webhooks import endpoints
from relay.unsubscribe import public_url_warning


@click.command()
@json_option
@pass_state
def status(state: State, as_json: bool) -> None:
    """Counts per state, oldest deferred, next retry, bounce reports not processed after a
    minute, shops with warnings, recent failures, quarantined rows, rows stuck in flight,
    undeliverable mandatory mail (problems), the webhook backlog per shop, and each shop's
    bounce and complaint rates (7 days)."""
    conn = state.conn
    shops = [shop_health(conn, s).as_dict() for s in list_shops(conn)]
    data = {
        "counts": queue.state_counts(conn),
        "oldest_deferred": queue.oldest_deferred(conn),
        "next_retry_at": queue.next_due(conn),
        "shops_with_warnings": [s for s in shops if s["warnings"]],
        "recent_failures": queue.recent_failures(conn),
        "quarantined": queue.quarantined(conn),
        "stuck": queue.stuck_inflight(conn),
        "identity_changes": identity_changes(conn, None, limit=10),
        "relay_warnings": relay_warnings(state),
        "reports_waiting": waiting_reports(conn, time.time() - REPORT_GRACE),
        **_shop_facing(conn),
    }
    emit(data, as_json, _render, multiline=("quarantined.detail",))  # a traceback


def _shop_facing(conn: Conn) -> dict:
    """Open problems, the webhook backlog per shop (with failures of the last day), rates."""
    now = time.time()
    return {
        "problems": [p.as_dict() for p in list_problems(conn)],
        "webhooks": [vars(b) for b in backlog(conn, now - 86400)],
        "webhooks_disabled": [
            {"shop": e.shop, "url": e.url, "why": e.disabled_why, "disabled_at": e.disabled_at}
            for e in endpoints(conn).values()
            if not e.active
        ],
        "rates": [r.as_dict() for r in shop_rates(conn, now)],
    }


def relay_warnings(state: State) -> list[str]:
    """What is wrong with the relay's own settings and DNS records (not with one shop): the
    records as last checked (`relay serve` re-checks them, `relay dns check --relay` too)."""
    warning = public_url_warning(state.config.http.public_url)
    stored = relay_dns(state.conn)
    dns = relay_dns_warnings(stored.report) if stored else []
    return ([warning] if warning else []) + dns


def _render(data: dict) -> None:
    click.echo("recipients: " + "  ".join(f"{k} {v}" for k, v in data["counts"].items()))
    oldest = data["oldest_deferred"]
    if oldest:
        click.echo(
            f"oldest deferred: {oldest['address']} (message {oldest['message']}, since "
            f"{when(oldest['created_at'])}): {oldest['last_text']}"
        )
    click.echo(f"next retry: {when(data['next_retry_at'])}")
    waiting = data["reports_waiting"]
    if waiting["count"]:
        click.echo(
            f"WARNING bounce reports: {waiting['count']} not processed yet, the oldest received"
            f" {when(waiting['oldest_at'])} (relay serve tries them again every"
            f" {REPORTS_EVERY:g} s; see its log)"
        )
    for warning in data["relay_warnings"]:
        click.echo(f"WARNING relay: {warning}")
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
    for row in data["stuck"]:
        click.echo(
            f"STUCK IN FLIGHT {row['message']} {row['address']}: held by {row['lease_owner']}"
            f" since {when(row['claimed_at'])}, lease until {when(row['lease_expires'])}"
            " (a result that could not be saved, or a worker that hangs; see its log)"
        )
    _render_shop_facing(data)
    if data["recent_failures"]:
        click.echo("recent failures:")
        for row in data["recent_failures"]:
            click.echo(
                f"  {when(row['updated_at'])} {row['message']} {row['address']} "
                f"{row['state']} {row['reason'] or ''} {row['last_status'] or ''} "
                f"{row['last_text'] or row['detail'] or ''}"
            )


def _render_shop_facing(data: dict) -> None:
    for problem in data["problems"]:
        click.echo(
            f"PROBLEM {problem['id']} {problem['shop']} order {problem['order'] or '-'}"
            f" {problem['kind']} {problem['recipient']}: {problem['text']}; the shop must reach"
            f" the customer another way (relay problems ack {problem['id']})"
        )
    for hooks in data["webhooks"]:
        oldest = f", oldest from {when(hooks['oldest_at'])}" if hooks["oldest_at"] else ""
        failed = f", {hooks['failed']} given up in 24 h" if hooks["failed"] else ""
        error = f"; last error {when(hooks['last_error_at'])}: {hooks['last_error']}"
        click.echo(
            f"webhooks {hooks['shop']}: {hooks['pending']} waiting{oldest}{failed}"
            + (error if hooks["last_error"] else "")
        )
    for off in data["webhooks_disabled"]:
        click.echo(
            f"WARNING shop {off['shop']}: webhook endpoint {off['url']} disabled: {off['why']}"
            f" (relay shop webhook {off['shop']} --url URL enables it)"
        )
    for rates in data["rates"]:
        for warning in rates["warnings"]:
            click.echo(f"WARNING shop {rates['shop']}: {warning}")
    if data["rates"]:
        click.echo("rates, last 7 days:")
        for rates in data["rates"]:
            click.echo(f"  {rates['shop']}: {_rate_words(rates)}")


def _rate_words(rates: dict) -> str:
    parts = []
    for name in ("bounce", "complaint"):
        rate = rates[f"{name}_rate"]
        shown = "-" if rate["rate"] is None else f"{rate['rate'] * 100:.2f} %"
        parts.append(f"{name} {shown} ({rate['count']}/{rate['of']})")
    week = rates["last_7_days"]
    return (
        ", ".join(parts) + f"; delivered {week['delivered']}, deferred {week['deferred']},"
        f" opted out {week['opted_out']}"
    )


COMMANDS = [status]
