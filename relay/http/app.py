"""The relay's HTTP listener (SPEC `[http] listen`): opt-out pages, `/healthz`, `/metrics`, the
JSON API under `/api/v1/` (relay.http.api) and the shop console under `/console/`
(relay.http.console)."""

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from relay.actions.tokens import redact
from relay.http import limits
from relay.http.api import ApiDeps, api_app
from relay.http.api.errors import ApiError
from relay.http.console import CONSOLE, ConsoleDeps, console_app
from relay.http.console import PREFIX as CONSOLE_PREFIX
from relay.http.console import not_found_page as console_not_found
from relay.http.metrics_page import MetricsSettings, add_metrics_route
from relay.http.optout import DEPS, Deps, not_found, resubscribe, show, show_resubscribe, submit
from relay.store.db import Read, Write, ping

log = logging.getLogger("relay.http")

# style-src 'unsafe-inline' for the inline <style>, img-src data: for the shop's header image
# (inline in the opt-out pages); nothing else may load, run or frame us.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}

_MAX_BODY = 64 * 1024  # a one-click or confirm POST is a few dozen bytes
_SHUTDOWN_TIMEOUT = 5.0
_TOKEN_PATH = re.compile(r"^/([ur])/[^/]*")
API_PREFIX = "/api/v1"


def make_app(
    read: Read,
    write: Write,
    secret: bytes,
    api: ApiDeps | None = None,
    metrics: MetricsSettings | None = None,
    console: ConsoleDeps | None = None,
) -> web.Application:
    app = web.Application(client_max_size=_MAX_BODY, middlewares=[_not_found_page])
    app[DEPS] = Deps(read, write, secret)
    app.router.add_get("/u/{token}", show)
    app.router.add_post("/u/{token}", submit)
    app.router.add_get("/r/{token}", show_resubscribe)
    app.router.add_post("/r/{token}", resubscribe)
    app.router.add_get("/healthz", healthz)
    if api is not None:
        app.add_subapp(API_PREFIX, api_app(api))
    if metrics is not None:
        add_metrics_route(app, metrics)
    if console is not None:
        app[CONSOLE] = console  # the console's 404 page for paths none of its routes has
        app.add_subapp(CONSOLE_PREFIX, console_app(console))
    app.on_response_prepare.append(_add_security_headers)
    return app


async def start_http(
    host: str,
    port: int,
    read: Read,
    write: Write,
    secret: bytes,
    *,
    api: ApiDeps | None = None,
    console: ConsoleDeps | None = None,
    reuse_port: bool = False,
    metrics: MetricsSettings | None = None,
) -> web.AppRunner:
    """Listen on host:port; the caller stops it with `await runner.cleanup()`."""
    runner = web.AppRunner(
        make_app(read, write, secret, api, metrics, console),
        access_log_class=RedactingAccessLogger,
        access_log=logging.getLogger("relay.http.access"),
        shutdown_timeout=_SHUTDOWN_TIMEOUT,
        keepalive_timeout=limits.KEEPALIVE_SECONDS,  # idle connections close (relay.http.limits)
    )
    await runner.setup()
    try:
        cap = limits.MAX_CONNECTIONS
        await limits.CappedSite(runner, host, port, limit=cap, reuse_port=reuse_port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def healthz(request: web.Request) -> web.Response:
    """For monitoring: 200 after a trivial read of the store, 503 when that fails."""
    if not ping(request.app[DEPS].read):
        log.error("health check: database read failed")
        return web.json_response({"status": "error", "db": False}, status=503)
    return web.json_response({"status": "ok", "db": True})


@web.middleware
async def _not_found_page(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Unknown paths, `/u/` without a token and extra segments look like any bad token; under
    # /api/ an unknown path is a problem+json like every other API answer.
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.path.startswith("/api/"):
            return ApiError("not-found", "no such resource; see /api/v1/openapi.json").response()
        if request.path.startswith(f"{CONSOLE_PREFIX}/") and CONSOLE in request.app:
            return console_not_found(request)  # a path no console route has
        return not_found()


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # The console sets a policy per page (its frames may be framed by the console itself).
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


class RedactingAccessLogger(AbstractAccessLogger):
    """Access log without tokens: an opt-out token of the old form carries the customer's
    address, and any opt-out token opts its customer out (or back in); an API token is a
    credential (one put in a path by mistake too). The query string and the headers
    (Authorization) are never logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = redact(_TOKEN_PATH.sub(r"/\1/<token>", request.path))
        self.logger.info(
            "%s %s %s %d %.3fs", request.remote, request.method, path, response.status, time
        )
