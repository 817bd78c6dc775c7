"""A bug in a lane never loses or hangs rows: they are quarantined with the traceback, shown by
`relay status` and `relay message show`, and `relay queue retry` puts them back. Unit level:
the real store, scheduler and CLI, with a router that fails behind the seam."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from relay.delivery.client import ClientSettings
from relay.delivery.routing import RouteError
from relay.delivery.scheduler import Policy, Scheduler
from relay.store.db import open_database
from relay.store.recipients import Lease

LEASE = Lease(node="test", owner="test/w0.1", duration=60.0, retry=60.0)

RELAY = [sys.executable, "-m", "relay"]


class BrokenRouter:
    relayhost = None

    def destination(self, domain: str) -> str:  # the lane of a domain (Router.destination)
        return domain

    async def route(self, domain: str) -> list:
        raise RuntimeError(f"bug while routing {domain}")


def _seed(db: Path) -> None:
    conn = sqlite3.connect(db)
    now = time.time()
    with conn:
        conn.execute(
            "INSERT INTO shops (name, domains, sender, sender_name, language,"
            " password_hash, dkim_selector, dkim_private_key, created_at)"
            " VALUES ('s', '[\"shop.example.com\"]', 'i@shop.example.com', 'S', 'de',"
            " 'x', 'sel', 'pem', ?)",
            (now,),
        )
        conn.execute(
            "INSERT INTO messages (id, shop, kind, header_from, message_id, identity,"
            " dkim_domain, mail_from, size, body, body_sha256, created_at) VALUES"
            " ('M1', 's', 'dunning', 'i@shop.example.com', '<m1@x>', 'fallback',"
            " 'relay.example.net', 'i@shop.example.com', 5, x'68690d0a', 'h', ?)",
            (now,),
        )
        conn.execute(
            "INSERT INTO recipients (message, address, domain, state, next_attempt_at,"
            " created_at, updated_at) VALUES ('M1', 'a@customers.example.com',"
            " 'customers.example.com', 'queued', ?, ?, ?)",
            (now, now, now),
        )
    conn.close()


def _states(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT state FROM recipients").fetchone()[0]
    finally:
        conn.close()


def _count(db: Path, state: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM recipients WHERE state = ?", (state,)).fetchone()[
            0
        ]
    finally:
        conn.close()


def _relay(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RELAY, "--config", str(root / "relay.toml"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _run_scheduler_until_quarantined(db: Path) -> None:
    database = open_database(f"sqlite:///{db.name}", db.parent)
    writer = database.writer()
    writer.start()
    reads = database.read
    client = ClientSettings("relay.example.net", 25, 1, 1, 1, False)
    policy = Policy((1.0,), 60.0, 4, 2, "bounces.relay.example.net", b"k" * 32)
    scheduler = Scheduler(writer.run, reads, BrokenRouter(), client, policy, LEASE)  # type: ignore[arg-type]
    await scheduler.start(release_node=True)
    try:
        for _ in range(100):
            state = _states(db)
            if state == "quarantined":
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"row stayed {state}")
    finally:
        await scheduler.stop()
        writer.stop()


def test_lane_bug_quarantines_and_retry_puts_back(tmp_path: Path) -> None:
    assert _relay(tmp_path, "init", "--dir", str(tmp_path)).returncode == 0
    db = tmp_path / "var" / "relay.db"
    _seed(db)
    asyncio.run(_run_scheduler_until_quarantined(db))
    status = json.loads(_relay(tmp_path, "status", "--json").stdout)
    assert status["counts"]["quarantined"] == 1
    assert "bug while routing" in status["quarantined"][0]["detail"]
    text = _relay(tmp_path, "status").stdout
    assert "QUARANTINED M1 a@customers.example.com: RuntimeError: bug while routing" in text
    shown = json.loads(_relay(tmp_path, "message", "show", "M1", "--json").stdout)
    assert shown["recipients"][0]["state"] == "quarantined"
    assert any(
        e["kind"] == "quarantined" and "RuntimeError" in e["detail"]["traceback"]
        for e in shown["events"]
    )
    listed = json.loads(_relay(tmp_path, "queue", "list", "--json").stdout)
    assert [r["state"] for r in listed] == ["quarantined"]
    assert "1 recipient(s) queued" in _relay(tmp_path, "queue", "retry", "M1").stdout
    assert json.loads(_relay(tmp_path, "status", "--json").stdout)["counts"]["queued"] == 1
    nothing = _relay(tmp_path, "queue", "retry", "M1")
    assert nothing.returncode != 0 and "nothing to retry" in nothing.stderr


class StuckRouter:
    """Every route lookup hangs until released (a slow DNS), then fails temporarily."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.asked = 0
        self.relayhost = None

    def destination(self, domain: str) -> str:
        return domain

    async def route(self, domain: str) -> list:
        self.asked += 1
        await self.release.wait()
        raise RouteError(False, "4.4.3", f"{domain}: DNS timed out")


def _add_due_rows(db: Path, count: int) -> None:
    """`count` more recipients of message M1, each at its own destination domain."""
    conn = sqlite3.connect(db)
    now = time.time()
    with conn:
        conn.executemany(
            "INSERT INTO recipients (message, address, domain, state, next_attempt_at,"
            " created_at, updated_at) VALUES ('M1', ?, ?, 'queued', ?, ?, ?)",
            [(f"a@d{n}.example.com", f"d{n}.example.com", now, now, now) for n in range(count)],
        )
    conn.close()


def test_a_busy_worker_claims_only_what_its_connections_can_carry(tmp_path: Path) -> None:
    """With every connection busy, the rest of the queue stays unclaimed, free for another
    worker, and stop() hands nothing over to a send that had not started."""
    assert _relay(tmp_path, "init", "--dir", str(tmp_path)).returncode == 0
    db = tmp_path / "var" / "relay.db"
    _seed(db)
    _add_due_rows(db, 300)
    router = StuckRouter()

    async def main() -> tuple[int, int]:
        database = open_database(f"sqlite:///{db.name}", db.parent)
        writer = database.writer()
        writer.start()
        client = ClientSettings("relay.example.net", 25, 1, 1, 1, False)
        policy = Policy((60.0,), 3600.0, 2, 2, "bounces.relay.example.net", b"k" * 32)
        scheduler = Scheduler(writer.run, database.read, router, client, policy, LEASE)  # type: ignore[arg-type]
        await scheduler.start(release_node=True)
        await asyncio.sleep(1.0)  # many wake-ups: each lane start and end wakes the loop
        claimed = _count(db, "inflight")
        stopping = asyncio.create_task(scheduler.stop())
        await asyncio.sleep(0.1)
        router.release.set()
        await stopping
        writer.stop()
        return claimed, router.asked

    claimed, asked = asyncio.run(main())
    assert 0 < claimed <= 2 * 20  # max_connections x BATCH
    assert asked == 2  # one lookup per busy connection; the waiting lanes never started
    conn = sqlite3.connect(db)
    states = dict(conn.execute("SELECT state, count(*) FROM recipients GROUP BY state"))
    conn.close()
    assert states.get("inflight") is None and sum(states.values()) == 301
    assert (states["deferred"], states["queued"]) == (2, 299)  # the two sends that had begun
