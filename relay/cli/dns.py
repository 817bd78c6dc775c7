"""`relay dns show SHOP` (records to publish) and `relay dns check SHOP` (what is wrong)."""

import click

from dns_checks import DnsError, DnspythonResolver, records_to_publish, to_json
from relay.cli.common import State, emit, json_option, pass_state, when
from relay.errors import SetupError
from relay.identity_check import check_shop, resolver_for, store_verdicts
from relay.keys import public_key_b64
from relay.model import Shop
from relay.store.shops import get_shop, verdicts


@click.group()
def dns() -> None:
    """DNS set-up of a shop's domains: SPF, DKIM, DMARC."""


def _resolver(state: State) -> DnspythonResolver:
    try:
        return resolver_for(state.config)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None


def _shop(state: State, name: str) -> Shop:
    shop = get_shop(state.conn, name)
    if shop is None:
        raise click.ClickException(f"no shop {name!r}; `relay shop list` shows the shops")
    return shop


@dns.command("show")
@click.argument("shop")
@json_option
@pass_state
def show(state: State, shop: str, as_json: bool) -> None:
    """The records to publish, ready to paste (SPF merged into an existing record)."""
    record = _shop(state, shop)
    resolver = _resolver(state)
    public = public_key_b64(record.dkim_private_key)
    data = []
    for domain in record.domains:
        try:
            records = records_to_publish(
                domain, record.dkim_selector, public, state.config.dns.spf_include, resolver
            )
        except DnsError as exc:
            raise click.ClickException(
                f"DNS lookup for {domain} failed: {exc}; try again"
            ) from None
        data.append(
            {
                "domain": domain,
                "records": [
                    {"name": r.name, "type": r.type, "value": r.value, "note": r.note}
                    for r in records
                ],
            }
        )
    emit(data, as_json, _render_records)


def _render_records(data: list[dict]) -> None:
    for entry in data:
        click.echo(f"{entry['domain']}:")
        for rec in entry["records"]:
            click.echo(f'  {rec["name"]}  {rec["type"]}  "{rec["value"]}"')
            if rec["note"]:
                click.echo(f"      ({rec['note']})")


@dns.command("check")
@click.argument("shop")
@json_option
@pass_state
def check(state: State, shop: str, as_json: bool) -> None:
    """Check every record; stores the verdict that switches signing on or off."""
    record = _shop(state, shop)
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
            click.echo(f"  [{result['status']:7}] {result['check']}: {result['found']}")
            if result["action"]:
                click.echo(f"            -> {result['action']}")
        if domain["stale"]:
            click.echo(
                "  DNS did not answer: the last verdict is kept (stale since "
                f"{when(domain['stale_since'])})"
            )


COMMANDS = [dns]
