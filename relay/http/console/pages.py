"""Rendering console pages: Jinja2 templates (package data, autoescape on, undefined names are
errors), the words of the page's language, and the headers every page carries.

The Content-Security-Policy of a page allows our own style sheet and script file only (no
inline script or style, so an injected `<script>` or `style=` does nothing), images from us or
`data:`, frames from us (the message and the design preview, each a route of its own with a
stricter policy, FRAME_POLICY), and forms that post to us; nobody may frame the console.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jinja2
from aiohttp import web
from yarl import URL

from relay.explain import kind_words
from relay.http.console.deps import deps
from relay.http.console.i18n import LANGUAGE_NAMES, Words, page_language, remember
from relay.http.console.sessions import SESSION, Session
from relay.http.console.texts import STATE_WORDS, TEXTS
from relay.model import Shop
from relay.store.shops import get_shop

PREFIX = "/console"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
# The message and the preview: nothing runs, nothing loads but the message's own (data:)
# images and inline CSS; only the console may frame it, and `sandbox` applies even when the
# frame's URL is opened on its own.
FRAME_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'; sandbox"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
FRAME_HEADERS = {
    "Content-Security-Policy": FRAME_POLICY,
    "X-Frame-Options": "SAMEORIGIN",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NAV = ("overview", "orders", "problems", "settings", "design", "dns")
_NAV_PATHS = {"overview": "/"}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("relay.http.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def words(request: web.Request, shop: Shop | None = None) -> Words:
    """The words of the page's language (the logged-in shop's, when no other is chosen)."""
    session = session_of(request)
    if shop is None and session is not None:
        shop = get_shop(deps(request).read(), session.shop)
    return Words(page_language(request, shop.language if shop else None))


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def shop_of(request: web.Request) -> Shop:
    """The logged-in shop (the session middleware lets no request without one through)."""
    session = request[SESSION]
    shop = get_shop(deps(request).read(), session.shop)
    if shop is None:  # removed a moment ago: as good as logged out
        raise web.HTTPSeeOther(f"{PREFIX}/login")
    return shop


def render(
    request: web.Request,
    template: str,
    *,
    title: str,
    t: Words,
    shop: Shop | None = None,
    active: str | None = None,
    status: int = 200,
    notices: Iterable[str] = (),
    errors: Iterable[str] = (),
    **context: Any,
) -> web.Response:
    page = _ENV.get_template(template).render(
        t=t,
        lang=t.language,
        title=title,
        shop=shop,
        session=session_of(request),
        active=active,
        nav=[(key, PREFIX + _NAV_PATHS.get(key, f"/{key}")) for key in NAV],
        languages=LANGUAGE_NAMES,
        switch_url=lambda code: _switch_url(request, code, active),
        prefix=PREFIX,
        kind_words=lambda kind: one_kind(kind, t),
        state_word=lambda state: STATE_WORDS.get(state, (state, state))[t.index],
        notices=list(notices),
        errors=list(errors),
        **context,
    )
    response = web.Response(text=page, content_type="text/html", status=status)
    response.headers.update(PAGE_HEADERS)
    remember(request, response, deps(request).secure)
    return response


def one_kind(kind: str, t: Words) -> str:
    """One message's kind in words ("Zahlungserinnerung"); a shop's own kind by its name."""
    return t(f"kind.{kind}") if f"kind.{kind}" in TEXTS else kind_words(kind, t.language)


def frame(html: str, status: int = 200) -> web.Response:
    """A document shown only inside the console's sandboxed frames."""
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers.update(FRAME_HEADERS)
    return response


def redirect(location: str) -> web.Response:
    """303 after a POST (the browser GETs the page; a reload does not post again)."""
    return web.Response(status=303, headers={"Location": location})


def _switch_url(request: web.Request, code: str, active: str | None) -> str:
    """This page in another language: the GET of its path with `lang=`. A page that answers a
    POST (a refused test e-mail, a failed "check now") switches to the page its form is on:
    the POST's own path may have no GET (it would be a bare 405)."""
    if request.method in ("GET", "HEAD"):
        query = {k: v for k, v in request.query.items() if k != "lang"}
        return str(request.rel_url.with_query({**query, "lang": code}))
    return str(URL(page_of(request.rel_url.path, active)).with_query({"lang": code}))


def page_of(path: str, active: str | None) -> str:
    """The GET page a form posted from: its section's page, the log-in page, or the overview."""
    if active in NAV:
        return PREFIX + _NAV_PATHS.get(active, f"/{active}")
    return path if path == f"{PREFIX}/login" else f"{PREFIX}/"
