"""The overview (warnings, open problems, the 30-day picture), the order list (search, keyset
pages) and one order with its e-mails, each read for the logged-in shop only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from relay.history import order_messages
from relay.http.console.chart import SERIES, STRIP, chart
from relay.http.console.deps import deps
from relay.http.console.i18n import Words
from relay.http.console.pages import PREFIX, render, shop_of, words
from relay.model import Shop
from relay.stats import shop_rates
from relay.store import orders as store
from relay.store.history import recipients_of
from relay.store.problems import count_open
from relay.store.shops import verdicts
from relay.store.sql import Conn

PAGE = 25
_CURSOR = re.compile(r"(\d{1,12}(?:\.\d{1,9})?)~([A-Za-z0-9._-]{1,64})")


@dataclass(frozen=True)
class Listed:
    row: store.OrderRow
    recipients: list[str]
    summary: store.OrderSummary | None


def order_url(order: str) -> str:
    return f"{PREFIX}/orders/{quote(order, safe='')}"


async def overview(request: web.Request) -> web.Response:
    shop, d = shop_of(request), deps(request)
    t = words(request, shop)
    conn = d.read()
    rates = next(iter(shop_rates(conn, shop=shop.name)), None)
    names = {key: t(f"chart.{key}") for key, _ in (*SERIES, *STRIP)}
    days = rates.days if rates else []
    return render(
        request, "overview.html", title=t("overview.title"), t=t, shop=shop, active="overview",
        warnings=fallback_warnings(conn, shop, t, d.config.fallback.address),
        open_problems=count_open(conn).get(shop.name, 0),
        chart=chart(days, names) if days else None, days=days, rates=rates,
        series=[(k, c, names[k]) for k, c in (*SERIES, *STRIP)],
    )  # fmt: skip


def fallback_warnings(conn: Conn, shop: Shop, t: Words, fallback: str) -> list[str]:
    """SPEC "Sender identity": while a domain is not verified, every status view says so."""
    stored = verdicts(conn, shop.name)
    out = []
    for domain in shop.domains:
        verdict = stored.get(domain)
        if verdict is None or not verdict.verified:
            out.append(t("dns.fallback_warning", domain=domain, fallback=fallback))
    return out


async def orders(request: web.Request) -> web.Response:
    shop = shop_of(request)
    t = words(request, shop)
    query = request.query.get("q", "").strip()[:320]
    after = parse_cursor(request.query.get("after", ""))
    found = _search(deps(request).read(), shop.name, query, after)
    more = len(found) > PAGE
    listed = _listed(deps(request).read(), shop.name, found[:PAGE])
    next_url = None
    if more:
        cursor = found[PAGE - 1].cursor
        params = {"q": query} if query else {}
        next_url = str(
            URL(f"{PREFIX}/orders").with_query(
                {**params, "after": f"{cursor.at!r}~{cursor.message}"}
            )
        )
    return render(
        request, "orders.html", title=t("orders.title"), t=t, shop=shop, active="orders",
        query=query, listed=listed, next_url=next_url, paged=after is not None,
        order_url=order_url,
    )  # fmt: skip


def parse_cursor(text: str) -> store.Cursor | None:
    """`<time>~<message id>` as the "older" link writes it; anything else is the first page."""
    match = _CURSOR.fullmatch(text)
    return store.Cursor(float(match.group(1)), match.group(2)) if match else None


def _search(conn: Conn, shop: str, query: str, after: store.Cursor | None) -> list[store.OrderRow]:
    if not query:
        return store.recent_orders(conn, shop, after, PAGE + 1)
    if "@" in query:
        return store.orders_to(conn, shop, query, after, PAGE + 1)
    return store.orders_like(conn, shop, query, after, PAGE + 1)


def _listed(conn: Conn, shop: str, found: list[store.OrderRow]) -> list[Listed]:
    recipients = recipients_of(conn, [r.message for r in found])
    summaries = store.order_summaries(conn, shop, [r.order for r in found if r.order])
    return [
        Listed(
            r,
            [x["address"] for x in recipients.get(r.message, [])],
            summaries.get(r.order) if r.order else None,
        )
        for r in found
    ]


async def order(request: web.Request) -> web.Response:
    shop = shop_of(request)
    t = words(request, shop)
    ref = request.match_info["order"]
    conn = deps(request).read()
    messages = order_messages(conn, shop.name, ref, t.language)
    if not messages:  # no such order, or another shop's: the same answer
        raise web.HTTPNotFound()
    total = store.order_message_count(conn, shop.name, ref)
    cut = [t("order.cut", shown=len(messages), total=total)] if total > len(messages) else []
    return render(
        request, "order.html", title=t("order.title", order=ref), t=t, shop=shop,
        active="orders", order=ref, messages=messages, notices=cut,
    )  # fmt: skip
