"""bench/webhooks --mode outbox: events from the outbox table to a receiver, as `relay serve`
runs it (the group-commit writer, the outbox worker, the sender), on a throw-away SQLite."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from relay.dns import AsyncResolver
from relay.store import outbox
from relay.store.db import open_database
from relay.store.shops import insert_shop
from relay.store.webhooks import save_endpoint
from relay.webhooks.guard import UrlPolicy
from relay.webhooks.outbox import OutboxSettings, OutboxWorker
from relay.webhooks.sender import Sender, SenderSettings
from relay.webhooks.signing import new_webhook_id
from relay.webhooks.vault import Vault
from tests.store_fixtures import make_shop

KEY = b"bench-relay-secret-key-32-bytes!"


def fill(directory: Path, url: str, secret: str, bodies: list[bytes], shops: int) -> Path:
    """A database with `shops` shops, their endpoints at `url`, and one pending row per body
    (each its own sequence, as events about different messages)."""
    db = open_database("sqlite:///relay.db", directory, create=True)
    names = [f"shop{i}" for i in range(shops)]
    vault, now = Vault(KEY), time.time()
    with db.transaction() as tx:
        for name in names:
            insert_shop(tx, make_shop(name))
            events = ("message.delivered",)
            save_endpoint(tx, name, url, events, vault.seal(name, secret), None, now)
        for i, body in enumerate(bodies):
            webhook_id = new_webhook_id()
            row = outbox.NewRow(names[i % shops], webhook_id, "message.delivered", None, None,
                                webhook_id, body, now)  # fmt: skip
            outbox.enqueue(tx, row)
    db.close()
    return directory


async def drain(directory: Path, per_shop: int, in_flight: int) -> float:
    """Run the outbox worker until no row is pending; the wall time."""
    db = open_database("sqlite:///relay.db", directory)
    writer = db.writer()
    writer.start()
    settings = SenderSettings(timeout=10, connect_timeout=5, max_in_flight=in_flight,
                              max_per_shop=per_shop)  # fmt: skip
    policy = UrlPolicy(allow_private=True)  # the receiver is on loopback
    async with Sender(settings, policy, AsyncResolver(["127.0.0.1:1"])) as sender:
        worker = OutboxWorker(
            db.read,
            writer.run,
            sender,
            Vault(KEY),
            OutboxSettings(
                schedule=(5.0,),
                max_age=3600,
                timeout=10,
                poll=0.05,
            ),
            "bench/outbox",
        )
        started = time.perf_counter()
        await worker.start()
        while outbox.any_pending(db.read()):
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - started
        await worker.stop()
    writer.stop()
    db.close()
    return wall


def run(url: str, secret: str, bodies: list[bytes], shops: int, per_shop: int, in_flight: int):
    with tempfile.TemporaryDirectory(prefix="relay-bench-outbox-") as work:
        directory = fill(Path(work), url, secret, bodies, shops)
        return asyncio.run(drain(directory, per_shop, in_flight))
