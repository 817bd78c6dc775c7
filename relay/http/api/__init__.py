"""The JSON API under `/api/v1/` (SPEC "API and webhooks"), a sub-application of the HTTP
listener: Bearer tokens, RFC 9457 errors, size-capped bodies, the OpenAPI 3.1 document.

    app.add_subapp("/api/v1", api_app(ApiDeps(...)))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler

from relay.actions.tokens import authenticate, touch_job
from relay.http.api.deps import API, TOKEN, ApiDeps, cached_shop
from relay.http.api.errors import ApiError
from relay.http.api.routes import ROUTES, register
from relay.store import idempotency
from relay.store.errors import StoreError

log = logging.getLogger("relay.http.api")
PREFIX = "/api/v1"
PUBLIC = {route.path for route in ROUTES if route.public}
HOUSEKEEPING_EVERY = 3600.0

__all__ = ["ApiDeps", "api_app"]


def api_app(deps: ApiDeps) -> web.Application:
    app = web.Application(middlewares=[_problems, _bearer])
    app[API] = deps
    register(app)
    app.cleanup_ctx.append(_forget_old_keys)
    app.on_cleanup.append(_close_renderer)
    return app


async def _close_renderer(app: web.Application) -> None:
    app[API].renderer.close()


@web.middleware
async def _problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal as application/problem+json; an unexpected error is logged and a 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        return ApiError("body-too-large", "the request body is too large").response()
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        error = ApiError(
            "method-not-allowed", f"{request.method} is not allowed here; use {allowed}"
        )
        error.headers["Allow"] = allowed
        return error.response()
    except web.HTTPNotFound:
        return ApiError("not-found", "no such resource; /api/v1/openapi.json lists them").response()
    except StoreError as exc:
        log.error("api: the store failed: %s", exc)
        return ApiError("unavailable", "the database is busy; try again").response()
    except Exception:
        log.exception("api: %s %s failed", request.method, request.rel_url.path)
        return ApiError("internal", "the relay failed on this request; see its log").response()


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="relay"'}


@web.middleware
async def _bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """RFC 6750: `Authorization: Bearer <token>`; a token reaches only its own shop."""
    resource = request.match_info.route.resource
    if resource is not None and resource.canonical.removeprefix(PREFIX) in PUBLIC:
        return await handler(request)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    api = request.app[API]
    info = None
    if scheme.lower() == "bearer":
        info = authenticate(api.read(), presented.strip(), cached_shop(api))
    if info is None:
        challenge = dict(_CHALLENGE)
        if presented:
            challenge["WWW-Authenticate"] += ', error="invalid_token"'
        raise ApiError(
            "unauthorized",
            "send `Authorization: Bearer <token>` with an active token of your shop"
            " (`relay shop token create SHOP`)",
            headers=challenge,
        )
    request[TOKEN] = info
    job = touch_job(info, time.time())
    if job is not None:
        with contextlib.suppress(StoreError):  # a missed last-used time costs nothing
            await api.write(job)
    return await handler(request)


async def _forget_old_keys(app: web.Application) -> AsyncIterator[None]:
    """Idempotency keys older than their time to live are deleted once an hour."""
    deps = app[API]

    async def loop() -> None:
        while True:
            try:
                await deps.write(
                    lambda tx: idempotency.forget_expired(tx, time.time() - deps.idempotency_ttl)
                )
            except StoreError as exc:
                log.warning("api: could not forget old idempotency keys: %s", exc)
            await asyncio.sleep(HOUSEKEEPING_EVERY)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
