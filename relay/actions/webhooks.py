"""A shop's webhook endpoint: `relay shop webhook`, `GET/PUT/DELETE /api/v1/webhooks`.

The URL is checked with `relay.webhooks.check_url` (SSRF rules, README "Webhook URLs") when it
is set; the sender checks every address again at connect time. The signing secret is made by
the relay, shown once (when the endpoint is first set, and on `rotate`), and stored sealed
(relay.webhooks.vault). A rotated secret keeps signing beside the new one for a day
(Standard Webhooks: several signatures per request), so the shop can switch without losing
an event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relay.actions.errors import ActionError, NotFound
from relay.store import outbox
from relay.store import webhooks as store
from relay.store.db import Write
from relay.store.shops import get_shop
from relay.store.sql import Conn
from relay.webhooks.events import EventType
from relay.webhooks.guard import AddressResolver, UrlPolicy, check_url
from relay.webhooks.signing import new_secret
from relay.webhooks.vault import Vault

EVENT_TYPES = tuple(str(t) for t in EventType)
ROTATION_OVERLAP = 86400.0  # the old secret signs beside the new one this long


@dataclass(frozen=True)
class WebhookDeps:
    read: Any  # () -> Conn of the calling thread
    write: Write
    vault: Vault
    policy: UrlPolicy
    resolver: AddressResolver


@dataclass(frozen=True)
class WebhookView:
    shop: str
    url: str
    events: tuple[str, ...]
    active: bool
    disabled_why: str | None
    previous_secret_expires_at: float | None  # a rotated secret signs too until then
    created_at: float
    updated_at: float
    pending: int
    last_error: str | None
    last_error_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "events": list(self.events),
            "active": self.active,
            "disabled_why": self.disabled_why,
            "previous_secret_expires_at": self.previous_secret_expires_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "pending": self.pending,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


@dataclass(frozen=True)
class Saved:
    view: WebhookView
    secret: str | None  # shown once: a new endpoint's secret, or a rotated one


def show_webhook(conn: Conn, shop: str) -> WebhookView | None:
    endpoint = store.get_endpoint(conn, shop)
    return None if endpoint is None else _view(conn, endpoint)


def _view(conn: Conn, endpoint: store.Endpoint) -> WebhookView:
    now = time.time()
    backlog = next(iter(outbox.backlog(conn, now, endpoint.shop)), None)
    until = endpoint.previous_until if (endpoint.previous_until or 0) > now else None
    return WebhookView(
        shop=endpoint.shop,
        url=endpoint.url,
        events=endpoint.events,
        active=endpoint.active,
        disabled_why=endpoint.disabled_why,
        previous_secret_expires_at=until,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        pending=backlog.pending if backlog else 0,
        last_error=backlog.last_error if backlog else None,
        last_error_at=backlog.last_error_at if backlog else None,
    )


def checked_events(events: Sequence[str] | None) -> tuple[str, ...]:
    """The event types asked for, in the spec's order; all of them when none are named."""
    if events is None:
        return EVENT_TYPES
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise ActionError(
            f"unknown event type {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}", "events"
        )
    if not events:
        raise ActionError("name at least one event type", "events")
    return tuple(t for t in EVENT_TYPES if t in set(events))


async def set_webhook(
    deps: WebhookDeps,
    shop: str,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    rotate_secret: bool = False,
) -> Saved:
    """Create or change the endpoint (a disabled one is enabled again). A new endpoint needs a
    URL; leaving `url` or `events` out keeps what is set. The secret is in the answer only
    when it was made now."""
    conn = deps.read()
    if get_shop(conn, shop) is None:
        raise NotFound(f"no shop {shop!r}; `relay shop list` shows the shops", "shop")
    current = store.get_endpoint(conn, shop)
    wanted = checked_events(events) if events is not None else None  # before any DNS
    if url is not None:
        problem = await check_url(url, deps.policy, deps.resolver)
        if problem is not None:
            raise ActionError(problem.detail, "url", code=f"webhook-url-{problem.code}")
    now = time.time()
    if current is None:
        if url is None:
            raise ActionError("a new webhook endpoint needs a URL", "url")
        secret, sealed, previous = new_secret(), b"", None
        new_url, new_events = url, wanted or checked_events(None)
    else:
        secret, sealed, previous = _rotation(current, rotate_secret, now)
        new_url = url if url is not None else current.url
        new_events = wanted if wanted is not None else current.events
    if secret is not None:
        sealed = deps.vault.seal(shop, secret)
    await deps.write(
        lambda tx: store.save_endpoint(tx, shop, new_url, new_events, sealed, previous, now)
    )
    view = show_webhook(deps.read(), shop)
    assert view is not None
    return Saved(view, secret)


def _rotation(
    current: store.Endpoint, rotate: bool, now: float
) -> tuple[str | None, bytes, tuple[bytes, float] | None]:
    """(a new secret or None, the sealed current secret, the sealed secret that signs beside
    it and until when)."""
    if rotate:
        return new_secret(), b"", (current.secret, now + ROTATION_OVERLAP)
    old, until = current.previous_secret, current.previous_until
    if old is not None and until is not None and until > now:
        return None, current.secret, (old, until)
    return None, current.secret, None


async def remove_webhook(deps: WebhookDeps, shop: str) -> int:
    """Remove the endpoint; its pending events are dropped. How many were."""
    conn = deps.read()
    if store.get_endpoint(conn, shop) is None:
        raise NotFound(f"shop {shop} has no webhook endpoint", "shop")
    now = time.time()

    def job(tx: Any) -> int:
        store.remove_endpoint(tx, shop)
        return outbox.drop_pending(tx, shop, "the webhook endpoint was removed", now)

    return await deps.write(job)
