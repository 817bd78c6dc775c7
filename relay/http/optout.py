"""`/u/<token>`: the unsubscribe link and the RFC 8058 one-click endpoint; `/r/<token>`: undoing
an opt-out (SPEC "Opt-out"), both in the shop's design.

- GET shows a confirm page and changes nothing: mail scanners and previews fetch links
  (RFC 8058 §1), so only a POST may opt out (or re-subscribe).
- POST with `List-Unsubscribe=One-Click` (RFC 8058 §3.2) opts out at once and answers 200
  without a page; the mail client's user never sees it.
- POST from the confirm button (hidden field) opts out and shows a confirmation that offers
  to undo it: a form to the re-subscribe link, which works for 30 days after the opt-out (the
  same offer shows when the unsubscribe link is opened again in that time).
- POST to `/r/<token>` removes that opt-out (not a newer one) and records a `resubscribed`
  event; after 30 days the page says the link expired (410) and only an admin removes it.
Every failure (tampered, truncated, foreign or unknown token, unknown or removed shop,
mandatory kind) gets the same 404 page.
"""

import base64
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from relay.compose import StoredAssets
from relay.http.i18n import long_date, texts_for
from relay.http.pages import (
    CONFIRM_FIELD,
    CONFIRM_VALUE,
    Offer,
    OptOutView,
    PageDesign,
    already_page,
    confirm_page,
    done_page,
    expired_page,
    not_found_page,
    resubscribe_page,
    resubscribed_page,
)
from relay.kinds import Kind
from relay.model import OptOut, Shop
from relay.render import Design, RenderError
from relay.store.db import Read, Write
from relay.store.resubscribe import find_optout_made, undo_optout
from relay.store.shops import get_shop
from relay.store.suppression import add_optout, find_optout
from relay.unsubscribe import (
    RESUBSCRIBE_SECONDS,
    OptOutTarget,
    read_link_token,
    read_resubscribe_token,
    resubscribe_open,
    resubscribe_token,
)

log = logging.getLogger("relay.http")

_MAX_TOKEN = 1024  # a real token is ~100 characters; longer is not ours


@dataclass(frozen=True)
class Deps:
    read: Read
    write: Write
    secret: bytes


DEPS = web.AppKey("deps", Deps)


@dataclass(frozen=True)
class Resolved:
    target: OptOutTarget
    shop: Shop
    kind: Kind
    design: Design

    def view(self) -> OptOutView:
        language = self.design.language
        return OptOutView(
            texts_for(language),
            self.shop.sender_name,
            self.kind.label(language),
            self.target.address,
            page_design(self.design),
        )


def resolve(deps: Deps, token: str) -> Resolved | None:
    """The opt-out a link token stands for, or None for anything that must get the 404 page."""
    if len(token) > _MAX_TOKEN:
        return None
    target = read_link_token(deps.secret, token)  # exact: base64 spare bits are refused
    return _resolved(deps, target) if target is not None else None


def _resolved(deps: Deps, target: OptOutTarget) -> Resolved | None:
    shop = get_shop(deps.read(), target.shop)
    if shop is None:
        return None
    kind = shop.kinds.get(target.kind)
    if kind is None or not kind.optional:  # mandatory kinds ignore opt-outs (SPEC "Opt-out")
        return None
    return Resolved(target, shop, kind, _design(deps, shop))


def _design(deps: Deps, shop: Shop) -> Design:
    """The shop's design; a stored design that no longer validates must not cost the customer
    the page, so it falls back to the default one (and says so in the log)."""
    try:
        return StoredAssets(deps.read()).design(shop)
    except RenderError as error:
        log.warning("shop %s: its design is unreadable (%s); opt-out pages use the default",
                    shop.name, error)  # fmt: skip
        return Design(language=shop.language)


def page_design(design: Design) -> PageDesign:
    header = design.header
    source = None
    if header is not None:
        source = f"data:{header.mime_type};base64,{base64.b64encode(header.data).decode()}"
    return PageDesign(
        primary=design.primary,
        text=design.text,
        background=design.background,
        font=design.font,
        header_src=source,
        footer_lines=tuple(design.footer.splitlines()),
    )


def not_found() -> web.Response:
    return web.Response(status=404, text=not_found_page(), content_type="text/html")


def _html(page: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=page, content_type="text/html")


async def show(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    found = resolve(deps, request.match_info["token"])
    if found is None:
        return not_found()
    t = found.target
    already = find_optout(deps.read(), t.shop, t.address, t.kind)
    if already is None:
        return _html(confirm_page(found.view()))
    return _html(already_page(found.view(), _undo_offer(deps, found, already)))


async def submit(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    found = resolve(deps, request.match_info["token"])
    if found is None:
        return not_found()
    form = await _form(request)
    if form.get("List-Unsubscribe") == "One-Click":  # RFC 8058 §3.2
        await _opt_out(deps, found, "one-click")
        return web.Response(text="", content_type="text/plain")
    if form.get(CONFIRM_FIELD) == CONFIRM_VALUE:
        await _opt_out(deps, found, "link")
        t = found.target
        made = find_optout(deps.read(), t.shop, t.address, t.kind)
        return _html(done_page(found.view(), _undo_offer(deps, found, made)))
    # A POST that is neither: change nothing, offer the button again.
    return _html(confirm_page(found.view()), status=400)


def _undo_offer(
    deps: Deps, found: Resolved, optout: OptOut | None, base: str = "../r/"
) -> Offer | None:
    """The re-subscribe form for this opt-out while it may be undone (30 days). The action is
    relative to the page (`/u/<token>` or `/r/<token>`): public_url may have a path."""
    if optout is None or not resubscribe_open(optout.created_at, time.time()):
        return None
    token = resubscribe_token(deps.secret, found.target, optout.created_at)
    until = long_date(optout.created_at + RESUBSCRIBE_SECONDS, found.design.language)
    return Offer(action=f"{base}{token}", until=until)


async def show_resubscribe(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    found = _resubscription(deps, request.match_info["token"])
    if found is None:
        return not_found()
    resolved, at = found
    if not resubscribe_open(at, time.time()):
        return _html(expired_page(resolved.view()), status=410)
    t = resolved.target
    if find_optout_made(deps.read(), t.shop, t.address, t.kind, at) is None:
        return _after_undo(deps, resolved)
    return _html(resubscribe_page(resolved.view(), Offer(action="")))


async def resubscribe(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    found = _resubscription(deps, request.match_info["token"])
    if found is None:
        return not_found()
    resolved, at = found
    now = time.time()
    if not resubscribe_open(at, now):
        return _html(expired_page(resolved.view()), status=410)
    t = resolved.target
    # Idempotent: a second click finds no opt-out of that time and changes nothing.
    await deps.write(lambda tx: undo_optout(tx, t.shop, t.address, t.kind, at, now))
    return _after_undo(deps, resolved)


def _after_undo(deps: Deps, resolved: Resolved) -> web.Response:
    """Subscribed again, unless the customer opted out again later (a newer opt-out, which an
    old re-subscribe link must not undo): then that one is shown, with its own offer."""
    t = resolved.target
    newer = find_optout(deps.read(), t.shop, t.address, t.kind)
    if newer is not None:
        return _html(already_page(resolved.view(), _undo_offer(deps, resolved, newer, "")))
    return _html(resubscribed_page(resolved.view()))


def _resubscription(deps: Deps, token: str) -> tuple[Resolved, float] | None:
    if len(token) > _MAX_TOKEN:
        return None
    read = read_resubscribe_token(deps.secret, token)
    if read is None:
        return None
    resolved = _resolved(deps, read[0])
    return (resolved, read[1]) if resolved is not None else None


async def _form(request: web.Request) -> dict[str, str]:
    # RFC 8058 §3.2: multipart/form-data SHOULD, x-www-form-urlencoded MAY; post() reads both.
    try:
        data = await request.post()
    except ValueError:
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


async def _opt_out(deps: Deps, found: Resolved, source: str) -> None:
    t = found.target
    # Idempotent: a second click or a retried one-click POST finds the row and adds nothing.
    await deps.write(lambda tx: add_optout(tx, t.shop, t.address, t.kind, source))
