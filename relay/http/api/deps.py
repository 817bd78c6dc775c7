"""What the API's handlers need, and the request's authenticated caller."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from config import Config
from relay.actions.tokens import TokenInfo
from relay.actions.webhooks import WebhookDeps
from relay.http.api.errors import ApiError
from relay.http.api.render import Renderer
from relay.model import Shop
from relay.store.db import Read, Write
from relay.submit import Submitter

IDEMPOTENCY_TTL = 86400.0  # a key is remembered this long (then it may be used again)


@dataclass(frozen=True)
class ApiDeps:
    read: Read
    write: Write
    submitter: Submitter
    webhooks: WebhookDeps
    renderer: Renderer  # where templates are rendered ([http] render_workers)
    max_body: int  # bytes of a request body ([http] api_max_body)
    max_message_size: int  # bytes of a message ([submission] max_message_size)
    idempotency_ttl: float = IDEMPOTENCY_TTL


def api_deps(
    config: Config, read: Read, write: Write, submitter: Submitter, secret: bytes
) -> ApiDeps:
    """The API's dependencies in a running relay, from relay.toml."""
    from relay.webhooks.running import webhook_deps

    return ApiDeps(
        read=read,
        write=write,
        submitter=submitter,
        webhooks=webhook_deps(config, read, write, secret),
        renderer=Renderer(read, config.http.render_workers, (config.store.url, config.path.parent)),
        max_body=config.http.api_max_body,
        max_message_size=config.submission.max_message_size,
    )


API = web.AppKey("api", ApiDeps)
TOKEN = web.RequestKey("token", TokenInfo)


def deps(request: web.Request) -> ApiDeps:
    return request.config_dict[API]


def token(request: web.Request) -> TokenInfo:
    return request[TOKEN]


def shop(request: web.Request) -> Shop:
    """The caller's shop, as the submission path's cache holds it (read again after any change
    to a shop, `relay shop remove` included)."""
    api = deps(request)
    found, _verified = api.submitter.shops.get(api.read(), token(request).shop)
    if found is None:  # removed between the token check and now
        raise ApiError("unauthorized", "the token's shop no longer exists")
    return found


def cached_shop(api: ApiDeps) -> Callable[[str], Shop | None]:
    """A shop lookup through the submission path's cache (the token check of every request)."""
    return lambda name: api.submitter.shops.get(api.read(), name)[0]


def language(request: web.Request, shop_language: str) -> str:
    """?language=de|en, else the shop's language."""
    asked = request.query.get("language")
    return asked if asked in ("de", "en") else shop_language


def iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC (RFC 3339, `Z`), as every time in the API is written."""
    if ts is None:
        return None
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(data, ensure_ascii=False),
        content_type="application/json",
        headers=headers,
    )
