"""`relay dns show SHOP|--relay` (records to publish) and `relay dns check SHOP|--relay`."""

import time
from typing import Any

import click

from dns_checks import (
    DnsRecord,
    check_relay,
    relay_records,
    to_json,
)
from relay.actions.dns import publish_records
from relay.cli.common import State, emit, json_option, pass_state, when
from relay.dns import DnspythonResolver, check_resolver, relay_setup
from relay.errors import SetupError
from relay.identity_check import check_shop, store_verdicts
from relay.model import Shop
from relay.runtime import fallback_key_path
from relay.store.dns_results import save_relay_dns
from relay.store.shops import get_shop, verdicts

_RELAY_HELP = "The relay's own domains (bounce domain, fallback domain, reverse DNS)."


@click.group()
def dns() -> None:
    """DNS set-up of a shop's domains (DKIM, DMARC, custom return path) or of the relay."""


def _resolver(state: State) -> DnspythonResolver:
    try:
        return check_resolver(state.config)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None


def _shop(state: State, name: str | None, for_relay: bool) -> Shop | None:
    """The shop named, or None with --relay; exactly one of the two (a usage error: exit 2)."""
    if for_relay == (name is not None):
        raise click.UsageError("name a SHOP or give --relay (not both)")
    if name is None:
        return None
    shop = get_shop(state.conn, name)
    if shop is None:
        raise click.ClickException(f"no shop {name!r}; `relay shop list` shows the shops")
    return shop


def _fallback_pem(state: State) -> str:
    path = fallback_key_path(state.config.data_dir)
    if not path.exists():
        raise click.ClickException(f"{path} is missing: run `relay init`")
    return path.read_text()


def _records_json(domain: str, records: list[DnsRecord], note: str = "") -> dict[str, Any]:
    fields = ("name", "type", "value", "note", "need")
    rows = [{f: getattr(r, f) for f in fields} for r in records]
    return {"domain": domain, "records": rows, "note": note}


@dns.command("show")
@click.argument("shop", required=False)
@click.option("--relay", "for_relay", is_flag=True, help=_RELAY_HELP)
@json_option
@pass_state
def show(state: State, shop: str | None, for_relay: bool, as_json: bool) -> None:
    """The records to publish, ready to paste, each marked required, recommended or optional."""
    record = _shop(state, shop, for_relay)
    resolver = _resolver(state)
    if record is None:
        setup = relay_setup(state.config, _fallback_pem(state))
        data = [_records_json(setup.hostname, relay_records(setup, resolver))]
        emit(data, as_json, _render_records)
        return
    data = []
    for entry in publish_records(record, state.config, resolver):
        if entry.error:
            raise click.ClickException(f"{entry.error}; try again")
        data.append(_records_json(entry.domain, entry.records, entry.note))
    emit(data, as_json, _render_records)


def _render_records(data: list[dict]) -> None:
    for entry in data:
        click.echo(f"{entry['domain']}:")
        for rec in entry["records"]:
            value = f'"{rec["value"]}"' if rec["type"] == "TXT" else rec["value"]
            need = "" if rec["need"] == "required" else f"  ({rec['need']})"
            click.echo(f"  {rec['name']}  {rec['type']}  {value}{need}")
            if rec["note"]:
                click.echo(f"      {rec['note']}")
        if entry["note"]:
            click.echo(f"  {entry['note']}")


@dns.command("check")
@click.argument("shop", required=False)
@click.option("--relay", "for_relay", is_flag=True, help=_RELAY_HELP)
@json_option
@pass_state
def check(state: State, shop: str | None, for_relay: bool, as_json: bool) -> None:
    """Check every record; for a shop, stores the verdict that switches signing (and its
    custom return path) on or off; with --relay, stores what `relay status` warns about."""
    record = _shop(state, shop, for_relay)
    if record is None:
        setup = relay_setup(state.config, _fallback_pem(state))
        report = to_json(check_relay(setup, _resolver(state)))
        with state.transaction() as tx:  # what `relay status` warns about (dns_results)
            save_relay_dns(tx, report, time.time())
        emit([report], as_json, _render_check)
        return
    reports = check_shop(record, state.config, _resolver(state))
    with state.transaction() as tx:
        changes = store_verdicts(tx, record, reports)
    kept = verdicts(state.conn, record.name)
    data = [
        {
            **to_json(report),
            # During DNS trouble the verdict that keeps controlling signing is the last good one.
            "verified": change.verified,
            "stale": change.stale,
            "stale_since": kept[report.ascii_domain].stale_since
            if report.ascii_domain in kept
            else None,
            "changed": change.changed,
        }
        for report, change in zip(reports, changes, strict=True)
    ]
    emit(data, as_json, _render_check)


def _render_check(data: list[dict]) -> None:
    for domain in data:
        state = "verified" if domain["verified"] else "NOT verified"
        click.echo(f"{domain['domain']}: {state}")
        for result in domain["results"]:
            where = result["detail"].get("record_name")
            what = f"{result['check']} ({where})" if where else result["check"]
            click.echo(f"  [{result['status']:8}] {what}: {result['found']}")
            if result["action"]:
                click.echo(f"             -> {result['action']}")
        if "stale" in domain:  # a shop's domain: the return path its mail may use
            usable = domain["return_path"] or "none (envelope senders stay at the relay's domain)"
            click.echo(f"  custom return path: {usable}")
        if domain.get("stale"):
            click.echo(
                "  DNS did not answer: the last verdict is kept (stale since "
                f"{when(domain['stale_since'])})"
            )


COMMANDS = [dns]
