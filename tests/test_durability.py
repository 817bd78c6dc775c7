"""A message answered 250 is on disk: SIGKILL right after a burst loses none of it."""

from __future__ import annotations

import hashlib
import sqlite3
import threading

from tests.harness import RelayProcess
from tests.rig import names
from tests.rig.tools import wait_until
from tests.submit_client import body_of, submit_many


def test_sigkill_after_burst_keeps_every_accepted_message(relay_factory) -> None:  # type: ignore[no-untyped-def]
    # Deliveries go to an address Postfix defers, so rows stay in the queue for the check.
    relay: RelayProcess = relay_factory().start()
    sent = submit_many(
        relay.submission_port, "info@shop.example.com", [names.BUSY], per_session=10, sessions=10
    )
    relay.kill()
    assert len(sent) == 100
    relay.start()  # restart: the store opens, migrations and recovery run
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    stored = {
        row[0]: (bytes(row[1]), row[2])
        for row in conn.execute("SELECT id, body, body_sha256 FROM messages")
    }
    rcpts = dict(conn.execute("SELECT message, count(*) FROM recipients GROUP BY message"))
    conn.close()
    for item in sent:
        body, recorded = stored[item.queue_id]
        assert hashlib.sha256(body).hexdigest() == recorded  # stored intact
        assert hashlib.sha256(body_of(body)).hexdigest() == item.body_sha256  # what was sent
        assert rcpts[item.queue_id] == 1  # nothing half-stored


def test_sigterm_during_a_burst_finishes_cleanly(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory().start()
    accepted: list = []

    def burst() -> None:  # sessions cut by the shutdown keep what was answered 250
        accepted.extend(
            submit_many(
                relay.submission_port,
                "info@shop.example.com",
                [names.CUSTOMER],
                per_session=60,
                sessions=5,
                cut_short=True,
            )
        )

    def stored_count() -> int:
        conn = sqlite3.connect(relay.root / "var" / "relay.db")
        try:
            return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        finally:
            conn.close()

    thread = threading.Thread(target=burst)
    thread.start()
    wait_until(lambda: stored_count() >= 20, 30, "the burst to be under way")
    assert relay.stop() == 0  # SIGTERM: exit 0 after work in flight
    thread.join(60)
    assert not thread.is_alive()
    assert 20 <= len(accepted) < 300, "the shutdown came in the middle of the burst"
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    stored = {row[0] for row in conn.execute("SELECT id FROM messages")}
    inflight = conn.execute("SELECT count(*) FROM recipients WHERE state = 'inflight'").fetchone()
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    assert {s.queue_id for s in accepted} <= stored
    assert inflight[0] == 0 and integrity == "ok"
