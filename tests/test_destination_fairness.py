"""A backlog for one dead or slow destination never holds up mail to the other domains.

The claim serves domains round-robin and takes at most what one destination's connections
carry (`max_per_destination x BATCH`), leaving out a destination that holds that much already;
a destination that takes no session gets its other mail deferred at once with the same reason
for a while (Postfix's queue manager: round-robin destinations, dead sites).

The claim on both store backends; the scheduler against a loopback port that accepts and hangs
up at once; the whole relay against an MX that never greets (nsd, a real Postfix for the
healthy domain).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relay.delivery.client import ClientSettings
from relay.delivery.routing import MxHost
from relay.delivery.scheduler import Policy, Scheduler
from relay.store.recipients import Lease, claim_due, flush_all
from tests.harness import RelayProcess, submit
from tests.held_mx import BOUNCE_DOMAIN, SECRET, until
from tests.rig.nsd import NsdServer, base_zones
from tests.rig.postfix import PostfixRig
from tests.store_fixtures import new_database, queue_message, table

Fresh = Callable[[], str | None]
A = Lease(node="node-a", owner="node-a/w0.100", duration=60.0, retry=300.0)


def _backlog(db, dead: int, healthy: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """`dead` rows of dead.example.com queued first, then one row per healthy domain."""
    queue_message(db, *[f"c{n}@dead.example.com" for n in range(dead)])
    for domain in healthy:
        queue_message(db, f"max@{domain}")


@pytest.mark.backends("sqlite", "postgresql")
def test_a_claim_serves_every_domain_and_caps_one(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, url=fresh_store())
    _backlog(db, 30, ("example.org", "example.net"))
    with db.transaction() as tx:
        taken = claim_due(tx, A, 12, time.time() + 1, per_domain=10)
    domains = Counter(r["domain"] for r in taken)
    # Oldest first would be twelve rows of the backlog; round-robin gives each domain a turn.
    assert domains == {"dead.example.com": 10, "example.org": 1, "example.net": 1}


@pytest.mark.backends("sqlite", "postgresql")
def test_a_claim_leaves_out_the_domains_held_already(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, url=fresh_store())
    _backlog(db, 30, ("example.org",))
    with db.transaction() as tx:
        taken = claim_due(tx, A, 40, time.time() + 1, skip_domains=("dead.example.com",))
    assert [r["address"] for r in taken] == ["max@example.org"]
    states = table(db, "SELECT state, count(*) AS n FROM recipients GROUP BY state")
    assert {r["state"]: r["n"] for r in states} == {"inflight": 1, "queued": 30}


class HangUpAtOnce:
    """Accepts every connection on loopback and closes it before any greeting."""

    def __init__(self) -> None:
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._listener.accept()
                self.connections += 1
                conn.close()

    def close(self) -> None:
        self._listener.close()


class DeadRouter:
    relayhost = None

    def destination(self, domain: str) -> str:
        return domain

    async def route(self, domain: str) -> list[MxHost]:
        return [MxHost(f"mx.{domain}", 10, ("127.0.0.1",))]


def test_a_destination_that_takes_no_session_is_tried_once_and_its_mail_deferred(
    tmp_path: Path,
) -> None:
    db = new_database(tmp_path)
    _backlog(db, 100, ())
    mx = HangUpAtOnce()

    async def main() -> None:
        writer = db.writer()
        writer.start()
        client = ClientSettings("relay.example.net", mx.port, 5, 5, 5, False)
        policy = Policy((600.0,), 3600.0, 4, 1, BOUNCE_DOMAIN, SECRET)
        scheduler = Scheduler(writer.run, db.read, DeadRouter(), client, policy, A)  # type: ignore[arg-type]
        await scheduler.start(release_node=False)
        deferred = "SELECT count(*) AS n FROM recipients WHERE state = 'deferred'"
        await until(lambda: table(db, deferred)[0]["n"] == 100, "every row deferred")
        await scheduler.stop()
        writer.stop()

    try:
        asyncio.run(main())
    finally:
        mx.close()
    assert mx.connections == 1  # one connection for the first batch; the rest untried
    texts = table(db, "SELECT DISTINCT last_text AS text FROM recipients")
    assert len(texts) == 1 and "mx.dead.example.com [127.0.0.1]" in texts[0]["text"]


def test_a_flush_tries_an_unreachable_destination_again_at_once(tmp_path: Path) -> None:
    """`relay queue flush` after fixing the MX means "try now", not "deferred untried"."""
    db = new_database(tmp_path)
    _backlog(db, 1, ())
    mx = HangUpAtOnce()

    async def main() -> None:
        writer = db.writer()
        writer.start()
        client = ClientSettings("relay.example.net", mx.port, 5, 5, 5, False)
        policy = Policy((600.0,), 3600.0, 4, 1, BOUNCE_DOMAIN, SECRET)
        scheduler = Scheduler(writer.run, db.read, DeadRouter(), client, policy, A)  # type: ignore[arg-type]
        await scheduler.start(release_node=False)
        deferred = "SELECT count(*) AS n FROM recipients WHERE state = 'deferred'"
        await until(lambda: table(db, deferred)[0]["n"] == 1, "the first try deferred")
        with db.transaction() as tx:
            assert flush_all(tx) == 1
        scheduler.wake()
        await until(lambda: mx.connections == 2, "a second connection after the flush")
        await scheduler.stop()
        writer.stop()

    try:
        asyncio.run(main())
    finally:
        mx.close()


SILENT_ADDRESS = "127.0.0.3"
HEALTHY = "payment-confirmation@shop-customers.example.com"
CONNECT_TIMEOUT = 4.0


@contextlib.contextmanager
def silent_mx(port: int) -> Iterator[None]:
    """Completes the TCP handshake (kernel backlog), never sends a greeting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((SILENT_ADDRESS, port))
        listener.listen(1024)
        yield


@pytest.fixture
def dns_with_a_silent_mx(make_nsd: Callable[..., NsdServer]) -> NsdServer:
    zones = base_zones()
    zones["example.com"] += "slow IN MX 10 mx-silent.example.net.\n"
    zones["example.net"] += f"mx-silent IN A {SILENT_ADDRESS}\n"
    return make_nsd(zones, base=False)


def test_mail_to_a_healthy_domain_does_not_wait_for_a_dead_destinations_backlog(
    tmp_path: Path, dns_with_a_silent_mx: NsdServer, postfix: PostfixRig
) -> None:
    """180 due rows for an MX that never greets, then one message to a healthy domain: it
    waits at most about one connection attempt of the dead MX (review 2: 32 s before)."""
    postfix.reset()
    relay = RelayProcess(
        tmp_path / "relay",
        dns_with_a_silent_mx.nameserver,
        postfix.port,
        extra={
            "relay": {"workers": 1},
            "delivery": {
                "max_connections": 2,
                "max_per_destination": 1,
                "connect_timeout": f"{CONNECT_TIMEOUT:g}s",
            },
        },
    ).init()
    relay.add_shop()
    with silent_mx(postfix.port):
        relay.start()
        try:
            for batch in range(3):
                slow = [f"customer-{batch}-{n}@slow.example.com" for n in range(60)]
                submit(
                    relay,
                    ",".join(slow),
                    "X-Relay-Kind: payment-info",
                    "To: customers@slow.example.com",
                )
            submitted = time.monotonic()
            submit(relay, HEALTHY, "X-Relay-Kind: payment-received")
            postfix.wait_for_messages(HEALTHY, timeout=120)
            waited = time.monotonic() - submitted
            # One connection attempt of the dead MX is the most it should cost others.
            assert waited < 2 * CONNECT_TIMEOUT, f"healthy mail waited {waited:.1f} s"
        finally:
            relay.stop()
