"""The problems page: undeliverable mandatory mail waiting for the shop to act (acknowledged
through relay.actions.problems, as `relay problems ack` and the API), bounced addresses, and
blocked and opted-out customers (relay.actions.suppressions, as `GET /api/v1/suppressions`)."""

from __future__ import annotations

from aiohttp import web

from relay.actions.errors import NotFound
from relay.actions.problems import ack_problem, list_problems
from relay.actions.suppressions import MAX_LIST, shop_suppressions
from relay.history import rows as history_rows
from relay.http.console.deps import deps
from relay.http.console.orders import order_url
from relay.http.console.pages import PREFIX, redirect, render, session_of, shop_of, words
from relay.store.problems import count_problems

BOUNCED_SHOWN = 50


async def show(request: web.Request) -> web.Response:
    shop, d = shop_of(request), deps(request)
    t = words(request, shop)
    conn = d.read()
    everything = request.query.get("all") == "1"
    problems = list_problems(conn, shop.name, include_acked=everything, language=t.language)
    suppressed = shop_suppressions(conn, shop.name, language=t.language)
    total = count_problems(conn, shop.name, only_open=not everything)
    bounced = history_rows(
        conn, shop=shop.name, status="bounced", limit=BOUNCED_SHOWN, language=t.language
    )
    notices = [t("problems.acked")] if request.query.get("acked") == "1" else []
    if total > len(problems):  # said where the list is cut
        notices.append(t("problems.cut", shown=len(problems), total=total))
    if suppressed.next is not None:
        notices.append(t("problems.suppressions_cut", shown=MAX_LIST))
    return render(
        request, "problems.html", title=t("problems.title"), t=t, shop=shop, active="problems",
        notices=notices, problems=problems, everything=everything, bounced=bounced,
        complaints=[b for b in suppressed.blocks if b.reason == "complaint"],
        blocks=[b for b in suppressed.blocks if b.reason != "complaint"],
        optouts=suppressed.optouts, order_url=order_url,
    )  # fmt: skip


async def ack(request: web.Request) -> web.StreamResponse:
    shop, d = shop_of(request), deps(request)
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 18:
        raise web.HTTPNotFound()
    session = session_of(request)
    who = session.who if session else "console"
    try:
        await ack_problem(d.read(), d.write, int(text), by=who, shop=shop.name)
    except NotFound:  # no such problem, or another shop's: the same answer
        raise web.HTTPNotFound() from None
    return redirect(f"{PREFIX}/problems?acked=1")
