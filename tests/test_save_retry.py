"""A delivery result that cannot be saved (issue 9, item 9): the disk is full just when the
remote server says 250. The relay keeps the reply in memory and saves it once there is room:
the message reaches the MX once and is recorded once, the row shows as stuck in flight in
`relay status` meanwhile, and no task dies with "Task exception was never retrieved".

The real scheduler, client and store, a real SMTP exchange with an MX on loopback; the full
disk is a fault behind the writer seam (every COMMIT fails with SQLITE_FULL, as sqlite3
raises it), switched on by the MX the moment it has the message.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.delivery import scheduler as scheduler_module
from relay.store.db import Database
from relay.store.recipients import Lease
from tests.held_mx import HeldMx, collect_loop_errors, scheduler_for, until
from tests.store_fixtures import new_database, queue_message
from tests.store_fixtures import table as rows_of
from tests.test_writer import full_disk_writer

pytestmark = pytest.mark.backends("sqlite", "postgresql")
Fresh = Callable[[], str | None]

RELAY = [sys.executable, "-m", "relay"]
LEASE = Lease(node="node-a", owner="node-a/w0.1", duration=0.5, retry=300.0)


def table(db: Database, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in rows_of(db, sql)]


def relay_status(root: Path, db: Database) -> dict:
    url = db.url if db.shared else "sqlite:///relay.db"
    (root / "relay.toml").write_text(f'[store]\nurl = "{url}"\n')
    done = subprocess.run(
        [*RELAY, "--config", str(root / "relay.toml"), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = subprocess.run(
        [*RELAY, "--config", str(root / "relay.toml"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {**json.loads(done.stdout), "text": text}


def test_a_result_saved_after_the_disk_had_room_again_is_sent_once(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")
    seen: dict = {}

    async def main() -> list[dict]:
        errors = collect_loop_errors(asyncio.get_running_loop())
        writer = full_disk_writer(db)
        writer.start()
        with HeldMx(hold=False) as mx:
            mx.on_data = lambda: setattr(writer, "full", True)  # the disk fills up now
            scheduler = scheduler_for(db, writer.run, mx, LEASE)
            await scheduler.start(release_node=False)
            await until(lambda: writer.commits_refused >= 4, "several refused saves")
            await until(lambda: bool(relay_status(tmp_path, db)["stuck"]), "the lease to run out")
            seen.update(relay_status(tmp_path, db))
            assert table(db, "SELECT state FROM recipients") == [("inflight",)]
            writer.full = False  # room again
            await until(
                lambda: table(db, "SELECT state FROM recipients") == [("delivered",)],
                "the kept result to be saved",
            )
            await scheduler.stop()
            seen["messages"] = len(mx.messages)
        writer.stop()
        gc.collect()  # an unretrieved task exception is reported when the task is collected
        await asyncio.sleep(0)
        return errors

    errors = asyncio.run(main())
    assert seen["messages"] == 1  # sent once
    assert table(db, "SELECT code FROM attempts") == [(250,)]  # recorded once
    assert table(db, "SELECT count(*) FROM events WHERE kind = 'delivered'") == [(1,)]
    [stuck] = seen["stuck"]
    assert stuck["address"] == "max@example.org" and stuck["lease_owner"] == LEASE.owner
    assert "STUCK IN FLIGHT" in seen["text"] and "max@example.org" in seen["text"]
    assert errors == []


def test_bugs_while_saving_quarantine_those_rows_and_the_others_are_saved(
    tmp_path: Path, fresh_store: Fresh, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "bug@example.org", "fine@example.org", "bug2@example.org")
    real = scheduler_module.record_attempt

    def record(tx, result, owner):  # type: ignore[no-untyped-def]
        if result.address.startswith("bug"):
            raise TypeError("a bug in recording")
        return real(tx, result, owner)

    monkeypatch.setattr(scheduler_module, "record_attempt", record)

    async def main() -> list[dict]:
        errors = collect_loop_errors(asyncio.get_running_loop())
        writer = db.writer()
        writer.start()
        with HeldMx(hold=False) as mx:
            scheduler = scheduler_for(db, writer.run, mx, LEASE)
            await scheduler.start(release_node=False)
            settled = "SELECT 1 FROM recipients WHERE state IN ('quarantined', 'delivered')"
            await until(lambda: len(table(db, settled)) == 3, "every row settled")
            await scheduler.stop()
        writer.stop()
        gc.collect()
        await asyncio.sleep(0)
        return errors

    errors = asyncio.run(main())
    states = dict(table(db, "SELECT address, state FROM recipients"))
    assert states == {
        "bug@example.org": "quarantined",
        "bug2@example.org": "quarantined",
        "fine@example.org": "delivered",
    }
    assert errors == []


def test_a_shutdown_while_the_disk_is_full_keeps_the_row_leased_and_kills_no_task(
    tmp_path: Path, fresh_store: Fresh
) -> None:
    """The writer stops while a result waits for room (SIGTERM on a full disk): the lane
    gives up quietly, the row stays in flight under this worker's lease (the node's next
    start gives it back), and nothing dies with an unretrieved exception."""
    db = new_database(tmp_path, url=fresh_store())
    queue_message(db, "max@example.org")

    async def main() -> list[dict]:
        errors = collect_loop_errors(asyncio.get_running_loop())
        writer = full_disk_writer(db)
        writer.start()
        with HeldMx(hold=False) as mx:
            mx.on_data = lambda: setattr(writer, "full", True)
            scheduler = scheduler_for(db, writer.run, mx, LEASE)
            await scheduler.start(release_node=False)
            await until(lambda: writer.commits_refused >= 2, "a refused save")
            writer.stop()  # the relay is stopping; the disk is still full
            await scheduler.stop()
        gc.collect()
        await asyncio.sleep(0)
        return errors

    errors = asyncio.run(main())
    assert table(db, "SELECT state, lease_owner FROM recipients") == [("inflight", LEASE.owner)]
    assert errors == []
