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
    # Two connections to the MX in all slow delivery down, so the kill lands mid-delivery
    # (should a fast machine finish first, every check below still holds).
    relay: RelayProcess = relay_factory({"delivery": {"max_per_destination": 2}}).start()
    sent = submit_many(relay.submission_port, FROM, [names.CUSTOMER], per_session=50, sessions=10)
    assert len(sent) == 500
    wait_until(
        lambda: len(postfix.maildir_messages(names.CUSTOMER)) > 0,
        30,
        "delivery to start",
        interval=0.01,
    )
    relay.kill()
    at_kill = len(postfix.maildir_messages(names.CUSTOMER))
    relay.start()
    wait_until(lambda: _states(relay)["delivered"] == 500, 120, "all 500 delivered", interval=0.5)
    subjects = _subjects(postfix, names.CUSTOMER)
    assert len(subjects) == 500, "every message reached the maildir"
    duplicates = sum(subjects.values()) - 500
    print(
        f"\ncrash test: 500 messages, {at_kill} in the maildir at SIGKILL, "
        f"{duplicates} duplicate deliveries after the restart"
    )
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
