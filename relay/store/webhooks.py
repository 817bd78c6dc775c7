"""Each shop's webhook endpoint: URL, the event types it wants, its sealed signing secrets.

The secrets are stored sealed (relay.webhooks.vault): this module stores and returns the sealed
bytes and never sees a secret in clear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, changed, execute, row, rows


@dataclass(frozen=True)
class Endpoint:
    shop: str
    url: str
    events: tuple[str, ...]
    secret: bytes  # sealed
    previous_secret: bytes | None  # sealed; signs too until previous_until
    previous_until: float | None
    disabled_at: float | None  # the endpoint answered 410 (Gone)
    disabled_why: str | None
    created_at: float
    updated_at: float

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _endpoint(found: Any) -> Endpoint:
    return Endpoint(
        shop=found["shop"],
        url=found["url"],
        events=tuple(json.loads(found["events"])),
        secret=bytes(found["secret"]),
        previous_secret=None
        if found["previous_secret"] is None
        else bytes(found["previous_secret"]),
        previous_until=found["previous_until"],
        disabled_at=found["disabled_at"],
        disabled_why=found["disabled_why"],
        created_at=found["created_at"],
        updated_at=found["updated_at"],
    )


def get_endpoint(conn: Conn, shop: str) -> Endpoint | None:
    found = row(conn, "SELECT * FROM webhook_endpoints WHERE shop = ?", (shop,))
    return _endpoint(found) if found else None


def endpoints(conn: Conn, shops: list[str] | None = None) -> dict[str, Endpoint]:
    """Every endpoint, or those of `shops`, by shop."""
    if shops is None:
        found = rows(conn, "SELECT * FROM webhook_endpoints")
    else:
        marks = ",".join("?" * len(shops))
        found = rows(conn, f"SELECT * FROM webhook_endpoints WHERE shop IN ({marks})", shops)
    return {r["shop"]: _endpoint(r) for r in found}


def wanted_events(conn: Conn, shop: str) -> frozenset[str]:
    """The event types the shop's active endpoint wants (none without one). The outbox asks
    this in the transaction of every event it could tell."""
    found = row(
        conn,
        "SELECT events FROM webhook_endpoints WHERE shop = ? AND disabled_at IS NULL",
        (shop,),
    )
    return frozenset(json.loads(found["events"])) if found is not None else frozenset()


def save_endpoint(
    tx: Tx,
    shop: str,
    url: str,
    events: tuple[str, ...],
    secret: bytes,
    previous: tuple[bytes, float] | None,
    now: float,
) -> None:
    """Create or replace the endpoint (enabled again, if a 410 had disabled it)."""
    previous_secret, previous_until = previous if previous else (None, None)
    execute(
        tx,
        "INSERT INTO webhook_endpoints (shop, url, events, secret, previous_secret,"
        " previous_until, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)"
        " ON CONFLICT (shop) DO UPDATE SET url = excluded.url, events = excluded.events,"
        " secret = excluded.secret, previous_secret = excluded.previous_secret,"
        " previous_until = excluded.previous_until, disabled_at = NULL, disabled_why = NULL,"
        " updated_at = excluded.updated_at",
        (shop, url, json.dumps(list(events)), secret, previous_secret, previous_until, now, now),
    )


def remove_endpoint(tx: Tx, shop: str) -> bool:
    return bool(changed(tx, "DELETE FROM webhook_endpoints WHERE shop = ?", (shop,)))


def disable_endpoint(tx: Tx, shop: str, why: str, now: float) -> None:
    execute(
        tx,
        "UPDATE webhook_endpoints SET disabled_at = ?, disabled_why = ? WHERE shop = ?",
        (now, why, shop),
    )
