"""`relay shop add/list/show/kinds`; `set`/`remove` (relay.cli.shop_edit) and `design`/`template`
(relay.cli.shop_design) and `user` (relay.cli.shop_users) are added to the group at the end."""

import re
import time

import click

from dns_checks import InvalidDomain, public_mailbox_reason, to_ascii_domain
from relay.actions import kinds as kind_actions
from relay.actions.errors import ActionError
from relay.actions.shops import check_not_another_shops, check_password, check_sender
from relay.cli.common import State, emit, json_option, pass_state, table, when
from relay.cli.shop_edit import refuse
from relay.cli.tokens import token
from relay.cli.webhook import webhook
from relay.keys import new_dkim_key, new_selector, public_key_b64
from relay.model import Shop
from relay.passwords import generate_password, hash_password
from relay.shop_health import describe_change, shop_health
from relay.store import shops as store

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@click.group()
def shop() -> None:
    """Manage shops: identity, credentials, DKIM key, notification kinds, design, templates, API
    tokens, webhooks, console users."""


shop.add_command(token)
shop.add_command(webhook)


@shop.command("add")
@click.argument("name")
@click.option("--domain", "domains", multiple=True, required=True, help="Sender domain (repeat).")
@click.option("--sender", required=True, help="Sender address, e.g. shop@mein-shop.de.")
@click.option("--sender-name", required=True, help="Display name in From.")
@click.option("--language", type=click.Choice(["de", "en"]), default="de", show_default=True)
@click.option("--password", help="SMTP password; generated and printed once when omitted.")
@pass_state
def add(
    state: State,
    name: str,
    domains: tuple[str, ...],
    sender: str,
    sender_name: str,
    language: str,
    password: str | None,
) -> None:
    """Create a shop; prints its SMTP credentials once and the DNS records to publish."""
    if not _SLUG.match(name):
        raise click.BadParameter("use lower-case letters, digits and hyphens", param_hint="NAME")
    ascii_domains = tuple(_a_label(d) for d in domains)
    if "@" not in sender:
        raise click.BadParameter(f"{sender!r} is not an e-mail address", param_hint="--sender")
    try:  # the checks `shop set` makes too (relay.actions.shops)
        sender = check_sender(sender, ascii_domains)
        check_not_another_shops(state.conn, name, sender, sender_name)
        if password is not None:
            check_password(password)
    except ActionError as error:
        refuse(error)
    if store.name_taken(state.conn, name):
        raise click.ClickException(
            f"shop {name!r} exists already, or existed (a removed shop's history keeps its name);"
            f" see `relay shop show {name}`, or choose another name"
        )
    secret = password or generate_password()
    key = new_dkim_key()
    record = Shop(
        name=name,
        domains=ascii_domains,
        sender=sender,
        sender_name=sender_name,
        language=language,
        password_hash=hash_password(secret),
        dkim_selector=new_selector(),
        dkim_private_key=key,
        created_at=time.time(),
    )
    with state.transaction() as tx:
        store.insert_shop(tx, record)
    click.echo(
        f"shop {name} created\n\nSMTP credentials (shown once):\n"
        f"  username: {name}\n  password: {secret}\n"
    )
    print_records(state, record)


def print_records(state: State, record: Shop) -> None:
    from dns_checks.records import dkim_record, dmarc_suggestion, return_path_record
    from relay.dns import relay_setup

    click.echo("DNS records to publish (then run `relay dns check " + record.name + "`):")
    pub = public_key_b64(record.dkim_private_key)
    setup = relay_setup(state.config)
    for domain in record.domains:
        for rec in (
            dkim_record(domain, record.dkim_selector, pub),
            dmarc_suggestion(domain),
            return_path_record(domain, setup),
        ):
            value = f'"{rec.value}"' if rec.type == "TXT" else rec.value
            need = "" if rec.need == "required" else f"  ({rec.need})"
            click.echo(f"  {rec.name}  {rec.type}  {value}{need}")  # as `relay dns show`
    click.echo("`relay dns show` says what each record is for, and skips DMARC where one exists.")


def _a_label(domain: str) -> str:
    # IDNA 2008 + UTS 46 as dns_checks uses (Python's "idna" codec is IDNA 2003: it would
    # turn straße-shop into strasse-shop, a different domain).
    try:
        ascii_domain = to_ascii_domain(domain)
    except InvalidDomain as exc:
        raise click.BadParameter(str(exc), param_hint="--domain") from None
    refusal = public_mailbox_reason(ascii_domain)
    if refusal:
        hint = (
            "use the shop's own domain; the shop may still send from its address there by "
            "naming it as --sender (its mail then goes out from the relay's fallback address)"
        )
        raise click.BadParameter(f"{refusal}: {hint}", param_hint="--domain")
    return ascii_domain


@shop.command("list")
@json_option
@pass_state
def list_(state: State, as_json: bool) -> None:
    """All shops with their domains and whether they are verified."""
    data = [_summary(state, s) for s in store.list_shops(state.conn)]
    emit(
        data,
        as_json,
        lambda rows: table(
            [
                [
                    r["name"],
                    ",".join(r["domains"]),
                    r["sender"],
                    "yes" if r["verified_domains"] else "NO (fallback)",
                    len(r["warnings"]),
                    describe_change(r["identity_changes"][0]) if r["identity_changes"] else "-",
                ]
                for r in rows
            ],
            ["shop", "domains", "sender", "verified", "warnings", "last identity change"],
        ),
    )


@shop.command("show")
@click.argument("name")
@json_option
@pass_state
def show(state: State, name: str, as_json: bool) -> None:
    """One shop: identity, DKIM selector, kinds, verification and warnings."""
    record = store.get_shop(state.conn, name)
    if record is None:
        raise click.ClickException(f"no shop {name!r}; `relay shop list` shows the shops")
    emit(_summary(state, record), as_json, _render_shop)


def _summary(state: State, record: Shop) -> dict:
    health = shop_health(state.conn, record)
    verdicts = store.verdicts(state.conn, record.name)
    return {
        "name": record.name,
        "domains": list(record.domains),
        "sender": record.sender,
        "sender_name": record.sender_name,
        "language": record.language,
        "dkim_selector": record.dkim_selector,
        "created_at": record.created_at,
        "kinds": _kinds(record),
        "verdicts": {
            d: {"verified": v.verified, "checked_at": v.checked_at, "stale_since": v.stale_since}
            for d, v in verdicts.items()
        },
        # The health record names the shop again ("shop", also in each change): `name`
        # says it once here.
        "verified_domains": health.verified_domains,
        "warnings": health.warnings,
        "identity_changes": [
            {k: v for k, v in change.items() if k != "shop"} for change in health.identity_changes
        ],
    }


def _kinds(record: Shop) -> list[dict]:
    return kind_actions.kinds_of(record)


def _render_shop(data: dict) -> None:
    click.echo(
        f"shop {data['name']}  ({data['sender_name']} <{data['sender']}>, "
        f"language {data['language']})"
    )
    click.echo(f"  domains: {', '.join(data['domains'])}   DKIM selector: {data['dkim_selector']}")
    for domain in data["domains"]:
        verdict = data["verdicts"].get(domain)
        state = "verified" if verdict and verdict["verified"] else "not verified"
        checked = when(verdict["checked_at"]) if verdict else "never checked"
        click.echo(f"  {domain}: {state} (checked {checked})")
    click.echo(
        "  kinds: "
        + ", ".join(
            k["kind"]
            + ("" if k["enabled"] else " (disabled)")
            + (" [optional]" if k["optional"] else "")
            for k in data["kinds"]
        )
    )
    for warning in data["warnings"]:
        click.echo(f"  WARNING: {warning}")
    for change in data["identity_changes"]:
        click.echo(f"  change: {describe_change(change)}")


@shop.command("kinds")
@click.argument("name")
@click.option("--enable", "enable", multiple=True, metavar="KIND", help="Enable a kind (repeat).")
@click.option("--disable", "disable", multiple=True, metavar="KIND", help="Disable a kind.")
@click.option(
    "--add",
    "add_custom",
    multiple=True,
    metavar="KIND[:optional]",
    help="Add a custom kind; ':optional' lets customers opt out of it.",
)
@json_option
@pass_state
def kinds(
    state: State,
    name: str,
    enable: tuple[str, ...],
    disable: tuple[str, ...],
    add_custom: tuple[str, ...],
    as_json: bool,
) -> None:
    """The notification kinds a shop sends; disabled kinds are stored `suppressed`."""
    try:
        change = kind_actions.plan_kinds(
            state.conn, name, enable=enable, disable=disable, add_custom=add_custom
        )
    except ActionError as error:
        if error.field == "shop":
            raise click.ClickException(str(error)) from None
        hint = "--add" if error.field == "add" else None
        raise click.BadParameter(str(error), param_hint=hint) from None
    with state.transaction() as tx:
        kind_actions.save(tx, change)
    updated = store.get_shop(state.conn, name)
    assert updated is not None
    emit(
        _kinds(updated),
        as_json,
        lambda rows: table(
            [
                [r["kind"], "yes" if r["optional"] else "no", "yes" if r["enabled"] else "NO"]
                for r in rows
            ],
            ["kind", "optional", "enabled"],
        ),
    )


def _add_commands() -> None:
    from relay.cli.shop_design import COMMANDS as DESIGN_COMMANDS
    from relay.cli.shop_edit import COMMANDS as EDIT_COMMANDS
    from relay.cli.shop_users import COMMANDS as USER_COMMANDS

    for command in (*EDIT_COMMANDS, *DESIGN_COMMANDS, *USER_COMMANDS):
        shop.add_command(command)


_add_commands()
COMMANDS = [shop]
