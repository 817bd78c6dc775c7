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
