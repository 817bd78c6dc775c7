"""The shop console (SPEC "Shop console"): server-rendered pages under `/console/` on the HTTP
listener, for the people who run a shop. Mounted by relay.http.app:

    app.add_subapp("/console", console_app(console_deps(config, read, write, secret, ...)))

Every page reads and changes the logged-in shop's data only; what it does, it does through
relay/actions/, the code the CLI and the API call.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from relay.http.console import design, dns, login, messages, orders, problems, settings
from relay.http.console.deps import CONSOLE, ConsoleDeps, console_deps
from relay.http.console.guard import body_limit, csrf, logged_in, not_found_page, refusals
from relay.http.console.pages import PREFIX

STATIC = Path(__file__).parent / "static"

__all__ = ["CONSOLE", "PREFIX", "ConsoleDeps", "console_app", "console_deps", "not_found_page"]


def console_app(deps: ConsoleDeps) -> web.Application:
    # body_limit first: it clones the request, and the error pages of `refusals` must see the
    # session `logged_in` finds (their links and navigation are a logged-in shop's).
    app = web.Application(middlewares=[body_limit, refusals, logged_in, csrf])
    app[CONSOLE] = deps
    app.router.add_get("", _home)
    app.router.add_get("/", orders.overview)
    app.router.add_get("/login", login.show)
    app.router.add_post("/login", login.submit)
    app.router.add_post("/logout", login.logout)
    app.router.add_get("/orders", orders.orders)
    app.router.add_get("/orders/{order}", orders.order)
    app.router.add_get("/messages/{id}", messages.show)
    app.router.add_get("/messages/{id}/view", messages.view)
    app.router.add_get("/settings", settings.show)
    app.router.add_post("/settings", settings.save)
    app.router.add_get("/design", design.show)
    app.router.add_post("/design", design.save)
    app.router.add_get("/design/preview", design.preview)
    app.router.add_post("/design/test-email", design.test_email)
    app.router.add_get("/dns", dns.show)
    app.router.add_post("/dns/check", dns.check)
    app.router.add_get("/problems", problems.show)
    app.router.add_post("/problems/{id}/ack", problems.ack)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    return app


async def _home(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently(f"{PREFIX}/")
