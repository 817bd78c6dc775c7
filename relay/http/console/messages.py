"""One message: what happened to each recipient, its history in words, and the message itself
in a sandboxed frame (`/messages/{id}/view`, sanitised, relay.http.console.safe_html)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from relay.history import body, message
from relay.http.console.deps import deps
from relay.http.console.orders import order_url
from relay.http.console.pages import PREFIX, frame, render, shop_of, words
from relay.http.console.safe_html import safe_document
from relay.store.history import messages_by_id

MAX_ID = 64


def _message_id(request: web.Request) -> str:
    found = request.match_info["id"]
    if len(found) > MAX_ID:
        raise web.HTTPNotFound()
    return found


async def show(request: web.Request) -> web.Response:
    shop = shop_of(request)
    t = words(request, shop)
    view = message(deps(request).read(), _message_id(request), shop=shop.name, language=t.language)
    if view is None:  # no such message, or another shop's: the same answer
        raise web.HTTPNotFound()
    return render(
        request, "message.html", title=view.subject or t("message.no_subject"), t=t, shop=shop,
        active="orders", message=view, order_url=order_url,
        view_url=f"{PREFIX}/messages/{view.id}/view",
    )  # fmt: skip


async def view(request: web.Request) -> web.Response:
    """The message as the customer got it, made harmless; only inside the console's frame."""
    shop = shop_of(request)
    t = words(request, shop)
    conn = deps(request).read()
    found = _message_id(request)
    if not messages_by_id(conn, [found], shop.name):
        raise web.HTTPNotFound()
    raw = body(conn, found)
    empty = t("message.body_gone") if not raw else t("message.no_text")
    # Parsing and sanitising a large message takes a while: not on the event loop.
    html = await asyncio.to_thread(safe_document, raw, empty)
    return frame(html)
