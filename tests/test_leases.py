"""Leases instead of pid claims (issue 10): a claim is (node/worker, expiry); the holder renews
it while it works; an expired lease is taken over by any claimer; a node's start gives back
only its own leases; the supervisor gives back a dead worker's; a claim moves the next
attempt a retry interval ahead, so rows of a process that crashed are due after it. On both
store backends (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.store.db import Database
from relay.store.recipients import (
    Lease,
    claim_due,
    lease_owner,
    release_leases,
    release_unsent,
    renew_leases,
)
from tests.harness import RelayProcess
from tests.held_mx import HeldMx, scheduler_for, until
from tests.rig.tools import wait_until
from tests.store_fixtures import new_database, queue_message, table

pytestmark = pytest.mark.backends("sqlite", "postgresql")
Fresh = Callable[[], str | None]

A = Lease(node="node-a", owner="node-a/w0.100", duration=60.0, retry=300.0)
A1 = Lease(node="node-a", owner="node-a/w1.101", duration=60.0, retry=300.0)
B = Lease(node="node-b", owner="node-b/w0.200", duration=60.0, retry=300.0)


def rows_of(db: Database) -> dict[str, dict]:
    return {r["address"]: r for r in table(db, "SELECT * FROM recipients")}


def claim(db: Database, lease: Lease, now: float | None = None, limit: int = 10) -> list[str]:
    with db.transaction() as tx:
        return sorted(r["address"] for r in claim_due(tx, lease, limit, now))


def test_a_claim_is_a_lease_and_moves_the_next_attempt_ahead(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "a@example.org")
    before = time.time()
    assert claim(db, A) == ["a@example.org"]
    row = rows_of(db)["a@example.org"]
    assert (row["state"], row["lease_node"], row["lease_owner"]) == ("inflight", "node-a", A.owner)
    assert before + 60 <= row["lease_expires"] <= time.time() + 60
    assert before + 300 <= row["next_attempt_at"] <= time.time() + 300
    assert before <= row["claimed_at"] <= time.time()


def test_a_held_lease_is_nobody_elses_and_an_expired_one_is_taken_over(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "a@example.org")
    assert claim(db, A) == ["a@example.org"]
    assert claim(db, B) == []  # held
    assert claim(db, B, now=time.time() + 200) == []  # expired lease, but not due yet
    assert claim(db, B, now=time.time() + 400) == ["a@example.org"]  # expired and due
    assert rows_of(db)["a@example.org"]["lease_owner"] == B.owner


def test_renewing_extends_only_the_owners_leases(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "a@example.org")
    queue_message(db, "b@example.org")
    assert claim(db, A, limit=1) == ["a@example.org"]
    assert claim(db, B, limit=1) == ["b@example.org"]
    later = time.time() + 1000
    with db.transaction() as tx:
        assert renew_leases(tx, A.owner, 60.0, now=later) == 1
    rows = rows_of(db)
    assert rows["a@example.org"]["lease_expires"] == pytest.approx(later + 60)
    assert rows["b@example.org"]["lease_expires"] < later


def test_a_node_gives_back_only_its_own_leases_and_they_wait_a_retry(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    for address in ("a@example.org", "a1@example.org", "b@example.org"):
        queue_message(db, address)
    claim(db, A, limit=1), claim(db, A1, limit=1), claim(db, B, limit=1)
    with db.transaction() as tx:
        assert release_leases(tx, node="node-a") == 2
    rows = rows_of(db)
    assert [rows[a]["state"] for a in ("a@example.org", "a1@example.org")] == ["queued"] * 2
    assert rows["a@example.org"]["lease_owner"] is None
    assert rows["b@example.org"]["state"] == "inflight"  # another node may be sending it
    # The crashed holder may have sent it just before the crash: due after the retry interval.
    assert claim(db, A) == []
    later = claim(db, A, now=time.time() + 301)  # B's lease has ended by then too
    assert later == ["a1@example.org", "a@example.org", "b@example.org"]


def test_a_dead_workers_leases_and_unsent_rows_go_back(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, url=fresh_store())
    for address in ("a@example.org", "a1@example.org", "x@example.org"):
        queue_message(db, address)
    claim(db, A, limit=1), claim(db, A1, limit=2)
    with db.transaction() as tx:
        assert release_leases(tx, owner=A1.owner) == 2
    rows = rows_of(db)
    assert rows["a@example.org"]["state"] == "inflight"
    with db.transaction() as tx:  # shutdown: claimed, never sent: due at once
        assert release_unsent(tx, A.owner, [rows["a@example.org"]["id"]]) == 1
    assert "a@example.org" in claim(db, B)


def test_the_scheduler_renews_its_leases_while_the_mx_holds_the_reply(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")
    short = Lease(node="node-a", owner="node-a/w0.1", duration=0.6, retry=300.0)

    async def main() -> None:
        writer = db.writer()
        writer.start()
        with HeldMx() as mx:
            scheduler = scheduler_for(db, writer.run, mx, short)
            await scheduler.start(release_node=False)
            await asyncio.get_running_loop().run_in_executor(None, mx.received.wait, 30)
            first = rows_of(db)["max@example.org"]
            # Several lease lengths pass; renewals keep the lease alive, so nobody takes it.
            await until(
                lambda: (
                    rows_of(db)["max@example.org"]["lease_expires"]
                    > first["claimed_at"] + 3 * short.duration
                ),
                "three renewals",
            )
            assert claim(db, B) == []
            mx.release.set()
            await until(lambda: rows_of(db)["max@example.org"]["state"] == "delivered", "250")
            await scheduler.stop()
        writer.stop()

    asyncio.run(main())


# -- relay serve: start-up and a dead worker ---------------------------------------------------


def seeded(relay: RelayProcess, *leases: tuple[str, Lease]) -> Database:
    """Recipients claimed under `leases` (address, lease), due only in an hour."""
    db = relay.open_db()
    for address, lease in leases:
        queue_message(db, address, shop="mein-shop")
        with db.transaction() as tx:
            claim_due(tx, Lease(lease.node, lease.owner, 3600.0, 3600.0), 1)
    return db


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "supervisor"])
def test_relay_serve_gives_back_only_its_own_nodes_leases(relay_factory, workers: int) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory(
        {"relay": {"workers": workers}, "store": {"node": "node-a"}}
    )
    seeded(relay, ("mine@example.org", A), ("theirs@example.org", B)).close()
    relay.start()
    db = relay.open_db()
    rows = rows_of(db)
    assert (rows["mine@example.org"]["state"], rows["mine@example.org"]["lease_owner"]) == (
        "queued",
        None,
    )
    assert (rows["theirs@example.org"]["state"], rows["theirs@example.org"]["lease_owner"]) == (
        "inflight",
        B.owner,
    )
    assert "requeued 1 recipients this node held" in relay.log_text()


def worker_pids(relay: RelayProcess) -> dict[int, int]:
    """Worker index -> pid of the supervisor's children (from /proc)."""
    assert relay.proc is not None
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
        if ppid == relay.proc.pid and b"--worker" in argv:
            found[int(argv[argv.index(b"--worker") + 1])] = int(stat.parent.name)
    return found


def test_the_supervisor_gives_back_a_dead_workers_leases(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"relay": {"workers": 2}, "store": {"node": "node-a"}})
    relay.start()
    pids = worker_pids(relay)
    assert sorted(pids) == [0, 1]
    dead = Lease("node-a", lease_owner("node-a", 1, pids[1]), 3600.0, 3600.0)
    alive = Lease("node-a", lease_owner("node-a", 0, pids[0]), 3600.0, 3600.0)
    db = seeded(relay, ("dead@example.org", dead), ("alive@example.org", alive))
    os.kill(pids[1], signal.SIGKILL)
    wait_until(
        lambda: rows_of(db)["dead@example.org"]["state"] == "queued",
        20,
        "the dead worker's lease to be given back",
    )
    assert rows_of(db)["alive@example.org"]["lease_owner"] == alive.owner
    assert f"worker 1 (pid {pids[1]}) exited" in relay.log_text()
