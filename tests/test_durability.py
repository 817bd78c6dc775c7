"""A message answered 250 is on disk: SIGKILL right after a burst loses none of it."""

from __future__ import annotations

import hashlib
import sqlite3

from tests.harness import RelayProcess
from tests.rig import names
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
    import threading

    relay: RelayProcess = relay_factory().start()
    results: list = []

    def burst() -> None:
        try:
            results.extend(
                submit_many(
                    relay.submission_port,
                    "info@shop.example.com",
                    [names.CUSTOMER],
                    per_session=30,
                    sessions=5,
                )
            )
        except Exception as exc:  # sessions cut by the shutdown: expected for some
            results.append(exc)

    thread = threading.Thread(target=burst)
    thread.start()
    import time

    time.sleep(0.5)
    assert relay.stop() == 0  # SIGTERM: exit 0 after work in flight
    thread.join(60)
    accepted = [r for r in results if not isinstance(r, Exception)]
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    stored = {row[0] for row in conn.execute("SELECT id FROM messages")}
    inflight = conn.execute("SELECT count(*) FROM recipients WHERE state = 'inflight'").fetchone()
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    assert {s.queue_id for s in accepted} <= stored
    assert inflight[0] == 0 and integrity == "ok"
