"""`relay test-email --shop S --to ADDR`: a test message through the normal path.

The message goes through the same preparation, identity choice, DKIM signing and store as a
submitted one (not over SMTP: the CLI does not know the shop's password); a running
`relay serve` delivers it within seconds. Useful with a mail-tester address to check SPF,
DKIM and DMARC from the outside.
"""

import email.utils

import click

from relay.cli.common import State, pass_state
from relay.prepare.pipeline import Rejection, apply_signatures, prepare, sign_job
from relay.prepare.recipients import Lookups, syntax_error
from relay.runtime import settings_from
from relay.store import suppression
from relay.store.messages import insert_message
from relay.store.shops import get_shop, verified_domains


@click.command("test-email")
@click.option("--shop", "shop_name", required=True, help="Send as this shop.")
@click.option("--to", "to", required=True, help="Recipient address.")
@pass_state
def test_email(state: State, shop_name: str, to: str) -> None:
    """Queue a test message from a shop, signed and stored like a submitted one."""
    why = syntax_error(to)
    if why is not None:  # a usage error (exit 2), as the submission's 553 5.1.3 at RCPT
        raise click.BadParameter(f"{to!r} is not a valid address: {why}", param_hint="--to")
    conn = state.conn
    shop = get_shop(conn, shop_name)
    if shop is None:
        raise click.ClickException(f"no shop {shop_name!r}; `relay shop list` shows the shops")
    sender = email.utils.formataddr((shop.sender_name, shop.sender))
    data = (
        f"From: {sender}\r\nTo: <{to}>\r\nSubject: Test message from {shop.sender_name}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "This is a test message sent by `relay test-email`.\r\n"
    ).encode()
    lookups = Lookups(
        block=lambda address: suppression.find_block(conn, address),
        optout=lambda s, address, kind: suppression.find_optout(conn, s, address, kind),
        typo=lambda domain: None,
    )
    try:
        prepared = prepare(
            data,
            [to],
            shop,
            verified_domains(conn).get(shop.name, set()),
            lookups,
            settings_from(state.config),
        )
    except Rejection as rejection:
        raise click.ClickException(rejection.reply) from None
    apply_signatures(prepared, [sign_job(job, prepared.body) for job in prepared.sign_jobs])
    with state.transaction() as tx:
        insert_message(tx, prepared, shop.sender, "relay test-email")
    rcpt = prepared.recipients[0]
    click.echo(
        f"queued as {prepared.id} ({rcpt.address}: {rcpt.state}"
        f"{', ' + rcpt.detail if rcpt.detail else ''}); "
        f"`relay message show {prepared.id}` follows it"
    )


COMMANDS = [test_email]
