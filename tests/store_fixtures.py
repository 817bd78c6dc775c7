"""Small helpers for store-level tests: a fresh database (SQLite, or PostgreSQL where a test
runs on both backends), a shop, a queued message, rows as dicts.

Messages go in through the store's own `insert_message`, as the submission path stores them;
the message record is a plain dataclass with the attributes the store reads (relay.model
.MessageToStore), so no DKIM key or DNS is needed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from relay.model import RecipientPlan, Shop, State
from relay.store.db import Database, open_database
from relay.store.messages import insert_message
from relay.store.shops import insert_shop
from relay.store.sql import rows

_ids = itertools.count(1)


def make_shop(name: str) -> Shop:
    return Shop(
        name=name,
        domains=(f"{name}.example",),
        sender=f"info@{name}.example",
        sender_name=name.title(),
        language="en",
        password_hash="not-a-hash",
        dkim_selector="s1",
        dkim_private_key="unused",
    )


@dataclass(frozen=True)
class Identity:
    kind: str = "fallback"
    dkim_domain: str = "relay.example.net"
    header_from: str = "shops@relay.example.net"
    warning: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str = "dunning"


@dataclass
class Message:
    id: str
    shop: str
    recipients: list[RecipientPlan]
    body: bytes = b"Subject: test\r\n\r\nHello\r\n"
    kind: Kind = field(default_factory=Kind)
    order_ref: str | None = "1001"
    subject: str = "test"
    identity: Identity = field(default_factory=Identity)
    message_id: str = "<test@relay.example.net>"
    mailto_tokens: list = field(default_factory=list)
    template: str | None = None
    test: bool = False
    created_at: float = field(default_factory=time.time)
    return_path: str | None = None


def new_database(directory: Path, *shops: str, url: str | None = None) -> Database:
    """A fresh database with shops: SQLite in `directory`, or `url` (an empty PostgreSQL
    database of the `fresh_store` fixture)."""
    db = open_database(url or "sqlite:///relay.db", directory, create=True)
    with db.transaction() as tx:
        for name in shops or ("shop",):
            insert_shop(tx, make_shop(name))
    return db


def table(db: Database, sql: str, args: tuple = ()) -> list[dict]:
    """Rows of a query as dicts, on either engine (tests look at what the store wrote)."""
    return [dict(r) for r in rows(db.read(), sql, args)]


def queue_message(db: Database, *addresses: str, shop: str = "shop", **fields: object) -> str:
    """Store a message with one queued recipient per address, due now; its queue id."""
    message = Message(
        id=f"M{next(_ids)}",
        shop=shop,
        recipients=[
            RecipientPlan(a, a.rpartition("@")[2], State.QUEUED, prefix=b"X-Prefix: 1\r\n")
            for a in addresses
        ],
        **fields,  # type: ignore[arg-type]
    )
    with db.transaction() as tx:
        insert_message(tx, message, "info@shop.example", "127.0.0.1")
    return message.id
