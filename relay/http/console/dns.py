"""The DNS page: per domain the records to publish (relay.actions.dns.publish_records, as `relay
dns show`), what the last check found and what is wrong (the stored verdict), the fallback
warning while the domain is not verified, and "check now" (as `relay dns check`: the verdict
is stored and switches signing as the shop on or off from the next message)."""

from __future__ import annotations

from aiohttp import web

from relay.errors import SetupError
from relay.http.console.deps import deps
from relay.http.console.orders import fallback_warnings
from relay.http.console.pages import PREFIX, redirect, render, shop_of, words
from relay.model import Verdict
from relay.store.shops import verdicts

STATUS_ORDER = ("error", "warning", "unknown", "optional", "ok")


async def show(request: web.Request) -> web.Response:
    shop, d = shop_of(request), deps(request)
    t = words(request, shop)
    conn = d.read()
    try:
        records = await d.dns.records(shop)
        lookup_error = None
    except SetupError as error:
        records, lookup_error = [], str(error)
    stored = verdicts(conn, shop.name)
    notices = []
    if request.query.get("checked") == "1":
        verified = sum(1 for d in shop.domains if d in stored and stored[d].verified)
        notices.append(t("dns.checked_now", verified=verified, total=len(shop.domains)))
    domains = [
        {
            "name": domain,
            "verdict": stored.get(domain),
            "records": next((r for r in records if r.domain == domain), None),
            "results": _results(stored.get(domain)),
        }
        for domain in shop.domains
    ]
    return render(
        request, "dns.html", title=t("dns.title"), t=t, shop=shop, active="dns",
        notices=notices, errors=[lookup_error] if lookup_error else [], domains=domains,
        warnings=fallback_warnings(conn, shop, t, d.config.fallback.address),
    )  # fmt: skip


def _results(verdict: Verdict | None) -> list[dict]:
    """The last check's results, what needs doing first."""
    report = verdict.report if verdict is not None else {}
    results = list(report.get("results", []))
    return sorted(
        results,
        key=lambda r: (
            STATUS_ORDER.index(r.get("status", "ok")) if r.get("status") in STATUS_ORDER else 0
        ),
    )


async def check(request: web.Request) -> web.StreamResponse:
    shop, d = shop_of(request), deps(request)
    try:
        await d.dns.check(shop)
    except SetupError as error:
        t = words(request, shop)
        return render(
            request, "error.html", title=t("dns.title"), t=t, shop=shop, active="dns",
            status=503, text=str(error),
        )  # fmt: skip
    return redirect(f"{PREFIX}/dns?checked=1")
