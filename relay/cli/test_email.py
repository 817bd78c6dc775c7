"""`relay test-email --shop S --to ADDR [--kind K]`: a rendered sample through the normal path.

The message is a sample of the kind (default: payment-reminder) in the shop's design and
language, rendered as the API renders it and submitted through the same preparation, identity
choice, DKIM signing and store as any message (relay.submit.submit_now: not over SMTP, the CLI
does not know the shop's password). Its history row says it was a test. A running `relay serve`
delivers it within seconds. Useful with a mail-tester address to check SPF, DKIM and DMARC from
the outside.
"""

import click

from relay.actions.errors import ActionError
from relay.actions.test_email import DEFAULT_KIND, send_now
from relay.cli.common import State, pass_state
from relay.cli.shop_design import refused
from relay.prepare.recipients import syntax_error
from relay.render import RenderError
from relay.runtime import settings_from
from relay.submit import Rejection


@click.command("test-email")
@click.option("--shop", "shop_name", required=True, help="Send as this shop.")
@click.option("--to", "to", required=True, help="Recipient address.")
@click.option("--kind", default=DEFAULT_KIND, show_default=True, help="Kind of the sample.")
@click.option("--language", type=click.Choice(["de", "en"]), help="Default: the design's language.")
@pass_state
def test_email(state: State, shop_name: str, to: str, kind: str, language: str | None) -> None:
    """Queue a rendered sample of a kind from a shop, signed and stored like a submitted one."""
    why = syntax_error(to)
    if why is not None:  # a usage error (exit 2), as the submission's 553 5.1.3 at RCPT
        raise click.BadParameter(f"{to!r} is not a valid address: {why}", param_hint="--to")
    try:
        settings = settings_from(state.config)
        prepared = send_now(state.db, shop_name, to, settings, kind, language)
    except (ActionError, RenderError) as error:
        refused(error, {"kind": "--kind", "language": "--language", "to": "--to"})
    except Rejection as rejection:
        raise click.ClickException(rejection.reply) from None
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    rcpt = prepared.recipients[0]
    click.echo(
        f"queued as {prepared.id} ({rcpt.address}: {rcpt.state}"
        f"{', ' + rcpt.detail if rcpt.detail else ''}; subject {prepared.subject!r}); "
        f"`relay message show {prepared.id}` follows it"
    )


COMMANDS = [test_email]
