"""Never lose, never hang: SIGKILL mid-delivery, and an MX outage while mail is submitted."""

from __future__ import annotations

import email
import sqlite3
import time
from collections import Counter

from tests.harness import RelayProcess
from tests.rig import names
from tests.rig.postfix import PostfixRig
from tests.rig.tools import wait_until
from tests.submit_client import submit_many

FROM = "info@shop.example.com"


def _subjects(postfix: PostfixRig, address: str) -> Counter[str]:
    return Counter(
        email.message_from_bytes(m)["Subject"] for m in postfix.maildir_messages(address)
    )


def _states(relay: RelayProcess) -> Counter[str]:
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    counts = Counter(dict(conn.execute("SELECT state, count(*) FROM recipients GROUP BY state")))
    conn.close()
    return counts


def test_sigkill_mid_delivery_then_restart_delivers_everything(
    relay_factory, postfix: PostfixRig
) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory().start()
    sent = submit_many(relay.submission_port, FROM, [names.CUSTOMER], per_session=50, sessions=10)
    assert len(sent) == 500
    # Kill while deliveries are under way (some delivered, some not).
    wait_until(
        lambda: 0 < len(postfix.maildir_messages(names.CUSTOMER)) < 500,
        30,
        "delivery to start",
        interval=0.01,
    )
    relay.kill()
    relay.start()
    wait_until(lambda: _states(relay)["delivered"] == 500, 120, "all 500 delivered", interval=0.5)
    subjects = _subjects(postfix, names.CUSTOMER)
    assert len(subjects) == 500, "every message reached the maildir"
    duplicates = sum(subjects.values()) - 500
    print(f"\ncrash test: 500 messages, {duplicates} duplicate deliveries after SIGKILL")
    assert _states(relay)["inflight"] == 0


def test_mx_outage_then_recovery_delivers_all(relay_factory, postfix: PostfixRig) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"delivery": {"retry_schedule": "1s, 2s*30"}}).start()
    postfix.stop()
    try:
        sent = submit_many(
            relay.submission_port, FROM, [names.CUSTOMER], per_session=20, sessions=10
        )
        assert len(sent) == 200
        wait_until(lambda: _states(relay)["deferred"] == 200, 60, "200 deferred", interval=0.3)
    finally:
        postfix.start()
    started = time.monotonic()
    wait_until(lambda: _states(relay)["delivered"] == 200, 90, "200 delivered", interval=0.5)
    print(f"\noutage test: 200 delivered {time.monotonic() - started:.1f}s after Postfix came back")
    assert len(_subjects(postfix, names.CUSTOMER)) == 200
