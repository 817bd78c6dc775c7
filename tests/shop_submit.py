"""The submission path every way in shares (`relay.submit.submit_now`: parse, render, sign,
store), on a real SQLite store with one shop, for the tests that time or inspect it."""

from __future__ import annotations

from pathlib import Path

from relay.keys import new_dkim_key
from relay.model import Shop
from relay.prepare.identity import Fallback
from relay.prepare.pipeline import Prepared, Settings
from relay.store.db import Database, open_database
from relay.store.shops import insert_shop
from relay.submit import submit_now

SHOP = "moebel"
SENDER = "info@shop.example.com"


def shop_database(directory: Path) -> tuple[Database, Settings]:
    key = new_dkim_key()
    db = open_database("sqlite:///relay.db", directory, create=True)
    with db.transaction() as tx:
        insert_shop(
            tx, Shop(SHOP, ("shop.example.com",), SENDER, "Möbel Müller", "de", "x", "s1", key)
        )
    settings = Settings(
        "relay.example.net",
        "https://relay.example.net",
        "bounces.relay.example.net",
        b"s" * 32,
        Fallback("shops@relay.example.net", "relay.example.net", "relay", key),
    )
    return db, settings


def submit(db: Database, settings: Settings, message: bytes, to: list[str]) -> Prepared:
    return submit_now(db, SHOP, SENDER, to, message, "127.0.0.1", settings)
