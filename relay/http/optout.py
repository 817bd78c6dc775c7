"""`/u/<token>`: the unsubscribe link and the RFC 8058 one-click endpoint.

- GET shows a confirm page and changes nothing: mail scanners and previews fetch links
  (RFC 8058 §1), so only a POST may opt out.
- POST with `List-Unsubscribe=One-Click` (RFC 8058 §3.2) opts out at once and answers 200
  without a page; the mail client's user never sees it.
- POST from the confirm button (hidden field) opts out and shows a confirmation.
Every failure (tampered, truncated, foreign or unknown token, unknown shop, mandatory kind)
gets the same 404 page.
"""

import hmac
from dataclasses import dataclass

from aiohttp import web

from relay.http.i18n import texts_for
from relay.http.pages import (
    CONFIRM_FIELD,
    CONFIRM_VALUE,
    OptOutView,
    already_page,
    confirm_page,
    done_page,
    not_found_page,
)
from relay.kinds import Kind
from relay.model import Shop
from relay.store.db import Read, Write
from relay.store.shops import get_shop
from relay.store.suppression import add_optout, find_optout
from relay.unsubscribe import OptOutTarget, link_token, read_link_token

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

    def view(self) -> OptOutView:
        language = self.shop.language
        return OptOutView(
            texts_for(language),
            self.shop.sender_name,
            self.kind.label(language),
            self.target.address,
        )


def resolve(deps: Deps, token: str) -> Resolved | None:
    """The opt-out a token stands for, or None for anything that must get the 404 page."""
    if len(token) > _MAX_TOKEN:
        return None
    target = read_link_token(deps.secret, token)
    # Only the exact token the relay issued: base64 ignores the spare bits of the last
    # character, so without this a one-character change could still be read as valid.
    if target is None or not hmac.compare_digest(link_token(deps.secret, target), token):
        return None
    shop = get_shop(deps.read(), target.shop)
    if shop is None:
        return None
    kind = shop.kinds.get(target.kind)
    if kind is None or not kind.optional:  # mandatory kinds ignore opt-outs (SPEC "Opt-out")
        return None
    return Resolved(target, shop, kind)


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
    return _html(already_page(found.view()) if already else confirm_page(found.view()))


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
        return _html(done_page(found.view()))
    # A POST that is neither: change nothing, offer the button again.
    return _html(confirm_page(found.view()), status=400)


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
