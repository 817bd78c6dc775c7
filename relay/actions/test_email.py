"""A test e-mail (SPEC "Design and templates"): a rendered sample of a kind in the shop's
design and language, through the normal submission path, marked as a test in the history.

The sample data are the realistic ones previews use (relay.render.sample_data); the subject is
the template's, RFC 2047-encoded where it is not ASCII (a shop named "Möbel Müller").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from relay.actions.errors import ActionError
from relay.actions.templates import check_kind, language_for
from relay.compose import TemplateRequest, compose
from relay.model import Shop
from relay.prepare.pipeline import Prepared, Rejection, Settings
from relay.prepare.recipients import syntax_error
from relay.render import RenderError, sample_data, sample_envelope
from relay.store.db import Database
from relay.store.shops import get_shop
from relay.store.sql import Conn
from relay.submit import ShopGone, Submitter, submit_now

DEFAULT_KIND = "payment-reminder"
CLIENT = "relay test-email"  # the history's client column
# The sample's order number, marked: the text shows it is a test, and no shop's real order
# (most are plain numbers such as the sample's 10023) gets the test in its history.
TEST_ORDER = "TEST-{order}"


def sample_request(
    conn: Conn, shop: Shop, to: str, kind: str = DEFAULT_KIND, language: str | None = None
) -> TemplateRequest:
    check_kind(shop, kind)
    chosen = language_for(conn, shop, language)
    try:
        data = sample_data(kind, chosen)
    except RenderError:
        raise ActionError(
            f"there is no sample data for the shop's own kind {kind!r}; send a test of a"
            " built-in kind",
            "kind",
        ) from None
    order = TEST_ORDER.format(order=sample_envelope(chosen).order)
    return TemplateRequest(kind, (to,), data, language=chosen, order=order, test=True)


def send_now(
    db: Database,
    shop_name: str,
    to: str,
    settings: Settings,
    kind: str = DEFAULT_KIND,
    language: str | None = None,
) -> Prepared:
    """Render the sample and queue it without a running relay (the CLI; the console composes
    the same request and hands it to its Submitter). Raises ActionError, RenderError or
    relay.submit.Rejection (nothing stored)."""
    conn = db.read()
    shop = get_shop(conn, shop_name)
    if shop is None:
        raise ActionError(f"no shop {shop_name!r}; `relay shop list` shows the shops", "shop")
    request = sample_request(conn, shop, to, kind, language)
    message = compose(conn, shop, request)
    try:
        return submit_now(db, shop.name, shop.sender, [to], message, CLIENT, settings)
    except ShopGone:
        raise ActionError(f"shop {shop_name!r} was removed meanwhile", "shop") from None


async def send_queued(
    conn: Conn,
    shop: Shop,
    to: str,
    render: Callable[[Shop, TemplateRequest], Awaitable[bytes]],
    submitter: Submitter,
    kind: str = DEFAULT_KIND,
    language: str | None = None,
) -> Prepared:
    """The same sample through a running relay's Submitter (the console): `render` is where
    the relay renders templates (relay.http.api.render.Renderer.render). A refusal is an
    ActionError naming the field; nothing is stored then."""
    why = syntax_error(to)
    if why is not None:
        raise ActionError(f"{to!r} is not a valid address: {why}", "to")
    request = sample_request(conn, shop, to, kind, language)
    try:
        message = await render(shop, request)
        return await submitter.submit(shop.name, shop.sender, [to], message, CLIENT)
    except RenderError as error:
        raise ActionError(str(error), error.variable or "kind") from None
    except Rejection as rejection:
        raise ActionError(rejection.reply, "to") from None
    except ShopGone:
        raise ActionError(f"shop {shop.name!r} was removed meanwhile", "shop") from None
