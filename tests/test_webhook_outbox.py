"""The webhook outbox on a real store (SQLite and PostgreSQL) and real receivers (aiohttp on
127.0.0.1, each request verified with `standardwebhooks`): rows written in the transaction of
the event, only for endpoints that want them; the worker sends them in order per message,
retries, gives up at max_age, obeys 410, takes over a dead worker's rows, and a hanging
endpoint holds up no other shop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relay.actions.errors import transaction_write
from relay.dns import AsyncResolver
from relay.model import DeliveryResult, State
from relay.store import outbox
from relay.store.db import Database, open_database
from relay.store.problems import list_problems
from relay.store.recipients import Bounce, Lease, claim_due, mark_bounced, record_attempt
from relay.store.shops import remove_shop
from relay.store.sql import rows
from relay.store.suppression import add_optout
from relay.store.webhooks import get_endpoint, save_endpoint
from relay.webhooks.guard import UrlPolicy
from relay.webhooks.outbox import OutboxSettings, OutboxWorker
from relay.webhooks.sender import Sender, SenderSettings
from relay.webhooks.signing import new_secret
from relay.webhooks.vault import Vault
from tests.rig.tools import free_port
from tests.store_fixtures import new_database, queue_message
from tests.webhook_receiver import Answer, Receiver, blackhole

pytestmark = pytest.mark.backends("sqlite", "postgresql")
KEY = b"k" * 32
VAULT = Vault(KEY)
SECRET = new_secret()
LEASE = Lease("node", "node/w0.1", 300, 300)
ALL = (
    "message.delivered",
    "message.deferred",
    "message.bounced",
    "message.failed",
    "message.suppressed",
    "message.complained",
    "recipient.opted_out",
    "message.undeliverable",
)


def endpoint(db: Database, shop: str, url: str, events: tuple[str, ...] = ALL) -> None:
    with db.transaction() as tx:
        save_endpoint(tx, shop, url, events, VAULT.seal(shop, SECRET), None, time.time())


def deliver(db: Database, message: str, state: State = State.DELIVERED, **extra: Any) -> None:
    """Claim the message's rows and record one attempt for each, as a delivery lane does."""
    with db.transaction() as tx:
        rows = [r for r in claim_due(tx, LEASE, 100) if r["message"] == message]
        for row in rows:
            code = {State.DELIVERED: 250, State.DEFERRED: 451, State.BOUNCED: 550}[state]
            fields = {
                "recipient": row["id"],
                "message": message,
                "shop": row["shop"],
                "address": row["address"],
                "state": state,
                "reason": {State.BOUNCED: "userunknown", State.DEFERRED: "systemerror"}.get(state),
                "detail": f"{code} 5.0.0 words",
                "next_attempt_at": time.time() - 1 if state == State.DEFERRED else None,
                "block_address": False,
                "reply": f"{code} words",
                "code": code,
                "status": f"{code // 100}.0.0",
                "text": "words",
                "mx_host": "mx1.example.net",
                "tls": True,
                "duration_ms": 5,
            }
            record_attempt(tx, DeliveryResult(**{**fields, **extra}), LEASE.owner)


def pending(db: Database) -> list[dict[str, Any]]:
    return [r for r in outbox.deliveries(db.read(), "a", 100) if r["state"] == "pending"]


def worker(db: Database, settings: OutboxSettings, sender: Sender) -> OutboxWorker:
    return OutboxWorker(db.read, transaction_write(db), sender, VAULT, settings, "node/outbox")


def sender(timeout: float = 3.0) -> Sender:
    settings = SenderSettings(timeout=timeout, connect_timeout=1, max_in_flight=50, max_per_shop=1)
    return Sender(settings, UrlPolicy(allow_private=True), AsyncResolver(["127.0.0.1:1"]))


FAST = OutboxSettings(schedule=(0.2, 0.2, 0.2), max_age=30, timeout=3.0, poll=0.05)


async def run_until(
    db: Database, settings: OutboxSettings, done: Any, timeout: float = 15, s: Sender | None = None
) -> None:
    async with s or sender(settings.timeout) as live:
        w = worker(db, settings, live)
        await w.start()
        try:
            async with asyncio.timeout(timeout):
                while not done():
                    await asyncio.sleep(0.05)
        finally:
            await w.stop(grace=1)


@pytest.fixture
def db(tmp_path: Path, fresh_store: Callable[[], str | None]) -> Database:
    return new_database(tmp_path, "a", "b", url=fresh_store())


# --- rows written with the event -----------------------------------------------------------


def test_an_event_writes_a_row_only_for_a_shop_whose_endpoint_wants_it(db: Database) -> None:
    endpoint(db, "a", "http://127.0.0.1:9/hook", ("message.delivered",))
    first = queue_message(db, "x@example.org", shop="a")
    other = queue_message(db, "y@example.org", shop="b")  # b has no endpoint
    deliver(db, first)
    deliver(db, other)
    rows = outbox.deliveries(db.read(), "a")
    assert [(r["type"], r["message"]) for r in rows] == [("message.delivered", first)]
    assert outbox.deliveries(db.read(), "b") == []
    deferred = queue_message(db, "z@example.org", shop="a")
    deliver(db, deferred, State.DEFERRED)  # a did not ask for message.deferred
    assert len(outbox.deliveries(db.read(), "a")) == 1


def claimed_bodies(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        claimed = outbox.claim(tx, "peek", 60, 100, time.time())
        outbox.release(tx, "peek")
    return [json.loads(c.body) for c in claimed]


def test_a_bounced_dunning_letter_is_told_and_escalated_in_order(db: Database) -> None:
    endpoint(db, "a", "http://127.0.0.1:9/hook")
    message = queue_message(db, "x@example.org", shop="a", order_ref="4711")
    deliver(db, message, State.BOUNCED)
    rows = list(reversed(outbox.deliveries(db.read(), "a")))
    assert [r["type"] for r in rows] == ["message.bounced", "message.undeliverable"]
    # One sequence: only the first is claimable until it is done.
    (first,) = claimed_bodies(db)
    assert first["type"] == "message.bounced"
    assert first["data"]["order"] == "4711" and first["data"]["reason"] == "userunknown"
    assert first["data"]["reply"] == {"code": 550, "status": "5.0.0", "text": "words"}
    (problem,) = list_problems(db.read(), "a")
    assert (problem.message, problem.cause, problem.kind) == (message, "bounced", "dunning")


def test_a_problem_is_opened_without_any_endpoint(db: Database) -> None:
    message = queue_message(db, "x@example.org", shop="b")
    deliver(db, message, State.BOUNCED)
    assert [p.cause for p in list_problems(db.read(), "b")] == ["bounced"]
    assert outbox.deliveries(db.read(), "b") == []


def test_a_late_dsn_tells_message_bounced_with_the_report(db: Database) -> None:
    endpoint(db, "a", "http://127.0.0.1:9/hook", ("message.bounced",))
    message = queue_message(db, "x@example.org", shop="a")
    deliver(db, message)  # delivered (a's endpoint does not want delivered)
    recipient = {"id": 1, "message": message, "shop": "a"}
    bounce = Bounce("mailboxfull", "5.2.2", None, "smtp; 552 5.2.2 full")
    with db.transaction() as tx:
        assert mark_bounced(tx, recipient, bounce, report=7, remote_mta="mx.example.org")
    (body,) = claimed_bodies(db)
    assert body["data"]["dsn"] == {
        "status": "5.2.2",
        "diagnostic": "smtp; 552 5.2.2 full",
        "remote_mta": "mx.example.org",
    }
    assert body["data"]["reply"] is None


def test_an_opt_out_is_told(db: Database) -> None:
    endpoint(db, "a", "http://127.0.0.1:9/hook")
    with db.transaction() as tx:
        add_optout(tx, "a", "X@example.org", "refund", "one-click")
    (body,) = claimed_bodies(db)
    assert body["type"] == "recipient.opted_out"
    assert (body["data"]["recipient"], body["data"]["source"]) == ("x@example.org", "one-click")


# --- the worker ---------------------------------------------------------------------------


def test_events_arrive_verified_in_the_order_of_each_message(db: Database) -> None:
    """The first POST of the message fails: its later event waits for it, never overtakes."""

    async def main() -> Receiver:
        async with Receiver(SECRET, [Answer(500)]) as hook:
            endpoint(db, "a", hook.url)
            message = queue_message(db, "x@example.org", shop="a")
            deliver(db, message, State.DEFERRED)
            deliver(db, message)
            await run_until(db, FAST, lambda: hook.count >= 3)
            return hook

    hook = asyncio.run(main())
    types = [r.payload["type"] for r in hook.received]
    assert types == ["message.deferred", "message.deferred", "message.delivered"]
    assert [r.error for r in hook.received] == ["", "", ""]
    ids = [r.headers["webhook-id"] for r in hook.received]
    assert ids[0] == ids[1] != ids[2]  # the retry carries the event's one webhook-id
    rows = {r["type"]: r for r in outbox.deliveries(db.read(), "a")}
    assert rows["message.deferred"]["attempts"] == 2
    assert {r["state"] for r in rows.values()} == {"delivered"}


def test_a_failing_endpoint_is_tried_until_max_age_then_given_up(db: Database) -> None:
    settings = OutboxSettings(schedule=(0.2,), max_age=1.0, timeout=2.0, poll=0.05)

    async def main() -> Receiver:
        async with Receiver(SECRET, [Answer(503)] * 100) as hook:
            endpoint(db, "a", hook.url)
            deliver(db, queue_message(db, "x@example.org", shop="a"))
            await run_until(db, settings, lambda: not pending(db), timeout=10)
            return hook

    hook = asyncio.run(main())
    (row,) = outbox.deliveries(db.read(), "a")
    assert row["state"] == "failed" and row["last_status"] == 503
    # Tries every 0.2 s (+-20 %) and a last one at max_age: about 5, never fewer than 3.
    assert 3 <= row["attempts"] == hook.count <= 8
    assert row["finished_at"] - row["created_at"] >= 1.0


class _BrokenSender:
    """A sender with a bug: `send` raises, where its contract says it never does."""

    async def __aenter__(self) -> _BrokenSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, delivery: Any) -> Any:
        raise ValueError("invalid literal for int() with base 10: '\u00b2'")


def test_an_unexpected_error_counts_as_a_try_and_never_leaves_the_row_leased(
    db: Database,
) -> None:
    """Review 3: an error the worker did not foresee left the row leased (renewed with the
    worker's other rows): never tried again, never given up, the message's later events
    held back. It is a failed try like any other now, and ends at max_age."""
    settings = OutboxSettings(schedule=(0.2,), max_age=1.0, timeout=2.0, poll=0.05)
    endpoint(db, "a", "http://127.0.0.1:9/hook")
    deliver(db, queue_message(db, "x@example.org", shop="a"))
    broken: Any = _BrokenSender()
    asyncio.run(run_until(db, settings, lambda: not pending(db), timeout=10, s=broken))
    (row,) = outbox.deliveries(db.read(), "a")
    assert row["state"] == "failed" and row["attempts"] >= 2
    assert "internal error: ValueError" in row["last_error"]


def test_a_removed_shops_customers_are_told_to_nobody(db: Database) -> None:
    """Review 3 (noticed): `relay shop remove` left the shop's webhook endpoint active, and
    late outcomes of its mail (a DSN days later) were still POSTed to it."""
    endpoint(db, "a", "http://127.0.0.1:9/hook")
    deliver(db, queue_message(db, "x@example.org", shop="a"))
    late = queue_message(db, "y@example.org", shop="a")
    assert len(pending(db)) == 1
    with db.transaction() as tx:
        assert remove_shop(tx, "a", time.time())
    assert get_endpoint(db.read(), "a") is None  # its sealed secret is gone with it
    (row,) = outbox.deliveries(db.read(), "a")
    assert row["state"] == "dropped" and row["last_error"] == "the shop was removed"
    deliver(db, late)  # an outcome after the removal
    assert len(outbox.deliveries(db.read(), "a")) == 1


def test_410_disables_the_endpoint_and_drops_what_waits(db: Database) -> None:
    async def main() -> None:
        async with Receiver(SECRET, [Answer(410)]) as hook:
            endpoint(db, "a", hook.url)
            for address in ("x@example.org", "y@example.org", "z@example.org"):
                deliver(db, queue_message(db, address, shop="a"))
            await run_until(db, FAST, lambda: not pending(db))

    asyncio.run(main())
    states = sorted(r["state"] for r in outbox.deliveries(db.read(), "a"))
    assert states == ["dropped", "dropped", "dropped"]
    found = get_endpoint(db.read(), "a")
    assert found is not None and not found.active and "410" in (found.disabled_why or "")
    deliver(db, queue_message(db, "w@example.org", shop="a"))  # disabled: nothing more is told
    assert len(outbox.deliveries(db.read(), "a")) == 3


def test_rows_left_in_flight_by_a_dead_worker_are_sent_at_the_next_start(db: Database) -> None:
    async def main() -> Receiver:
        async with Receiver(SECRET) as hook:
            endpoint(db, "a", hook.url)
            deliver(db, queue_message(db, "x@example.org", shop="a"))
            with db.transaction() as tx:  # a worker claimed it, then was killed
                assert len(outbox.claim(tx, "node/outbox", 3600, 10, time.time())) == 1
            await run_until(db, FAST, lambda: hook.count >= 1)
            return hook

    hook = asyncio.run(main())
    assert [r.payload["type"] for r in hook.received] == ["message.delivered"]
    assert [r["state"] for r in outbox.deliveries(db.read(), "a")] == ["delivered"]


def test_a_hanging_endpoint_holds_up_no_other_shop(db: Database) -> None:
    """Shop a's endpoint accepts TCP and never answers; shop b's events still arrive at once,
    while a's wait their turn (one POST at a time per shop, each up to the timeout)."""
    settings = OutboxSettings(
        schedule=(5.0,), max_age=60, timeout=4.0, per_shop=2, in_flight=6, batch=6, poll=0.05
    )

    async def main() -> tuple[float, Receiver]:
        with blackhole() as port:
            async with Receiver(SECRET) as hook:
                endpoint(db, "a", f"http://127.0.0.1:{port}/hook")
                endpoint(db, "b", hook.url)
                for i in range(20):
                    deliver(db, queue_message(db, f"a{i}@example.org", shop="a"))
                started = time.monotonic()
                for i in range(10):
                    deliver(db, queue_message(db, f"b{i}@example.org", shop="b"))
                await run_until(db, settings, lambda: hook.count >= 10, timeout=20)
                return time.monotonic() - started, hook

    took, hook = asyncio.run(main())
    assert took < 3.0, f"shop b waited {took:.1f}s behind shop a's hanging endpoint"
    assert sorted(r.payload["data"]["recipient"] for r in hook.received) == sorted(
        f"b{i}@example.org" for i in range(10)
    )


def test_a_secret_rotated_through_another_node_signs_the_next_post(
    db: Database, tmp_path: Path
) -> None:
    """Several nodes: the outbox runs on one node (B); the shop's admin rotates the secret
    through another (A). The running worker signs its next POST with the new secret: it reads
    the endpoints with every claim, so there is nothing to tell it."""
    node_b = open_database(db.url, tmp_path)
    rotated = new_secret()
    port = free_port()

    async def main() -> tuple[Receiver, Receiver]:
        async with sender() as live:
            w = OutboxWorker(
                node_b.read, transaction_write(node_b), live, VAULT, FAST, "node-b/outbox"
            )
            await w.start()
            try:
                async with Receiver(SECRET, port=port) as before:
                    endpoint(db, "a", before.url)
                    deliver(db, queue_message(db, "x@example.org", shop="a"))
                    await before.wait_for(1)
                async with Receiver(rotated, port=port) as after:
                    now = time.time()
                    with db.transaction() as tx:  # as `relay shop webhook a --rotate-secret`
                        save_endpoint(tx, "a", after.url, ALL, VAULT.seal("a", rotated),
                                      (VAULT.seal("a", SECRET), now + 86400), now)  # fmt: skip
                    deliver(db, queue_message(db, "y@example.org", shop="a"))
                    await after.wait_for(1)
            finally:
                await w.stop(grace=1)
        return before, after

    before, after = asyncio.run(main())
    node_b.close()
    assert (before.failures, after.failures) == (0, 0)  # each verified with its own secret
    assert after.received[0].payload["data"]["recipient"] == "y@example.org"  # type: ignore[index]
    assert len(after.received[0].headers["webhook-signature"].split()) == 2  # old one still signs


def test_only_the_rows_being_sent_have_their_leases_renewed(db: Database) -> None:
    """Final review: renewing every lease of the worker kept a row whose result could not be
    saved (a full disk) leased for as long as the worker had other work: never sent again,
    and the message's later events held back behind it. Only rows being sent are renewed."""
    endpoint(db, "a", "http://127.0.0.1:9/hook")
    deliver(db, queue_message(db, "x@example.org", shop="a"))
    deliver(db, queue_message(db, "y@example.org", shop="a"))
    now = time.time()
    with db.transaction() as tx:
        sending, given_up = outbox.claim(tx, "node/outbox", 30.0, 10, now + 1)
    with db.transaction() as tx:
        assert outbox.renew(tx, "node/outbox", [sending.id], now + 300) == 1
    found = rows(db.read(), "SELECT id, lease_expires FROM webhook_outbox")
    expires = {r["id"]: r["lease_expires"] for r in found}
    assert expires[sending.id] == pytest.approx(now + 300)
    assert expires[given_up.id] < now + 60  # runs out: the row is claimed and sent again
