"""Rates per shop (issue 14 item 7): counted with each outcome event, 30 days per day, the
last 7 days' bounce and complaint rates against the published limits, in `relay status`; on
both store backends (several nodes count into one PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.model import EventKind
from relay.stats import shop_rates
from relay.store import days
from relay.store.events import add_event
from tests.harness import RelayProcess
from tests.store_fixtures import new_database

pytestmark = pytest.mark.backends("sqlite", "postgresql")
Fresh = Callable[[], str | None]
NOW = time.time()
DAY = 86400


def count(db, shop: str, kind: str, n: int, days_ago: int = 0) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as tx:
        for _ in range(n):
            days.count(tx, shop, kind, NOW - days_ago * DAY)


def test_outcome_events_are_counted_per_shop_and_day(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, "a", "b", url=fresh_store())
    with db.transaction() as tx:
        add_event(tx, EventKind.DELIVERED, shop="a", at=NOW)
        add_event(tx, EventKind.DELIVERED, shop="a", at=NOW - 2 * DAY)
        add_event(tx, EventKind.OPTED_OUT, shop="a", at=NOW, address="x@example.org", kind="refund")
        add_event(tx, EventKind.ACCEPTED, shop="a", at=NOW)  # not an outcome
        add_event(tx, EventKind.BOUNCED, shop="b", at=NOW)
        add_event(tx, EventKind.BLOCKED, at=NOW)  # no shop: the block list is everybody's
    a, b = shop_rates(db.read(), NOW)
    assert (a.shop, b.shop) == ("a", "b")
    assert len(a.days) == 30 and a.days[-1]["day"] == time.strftime("%Y-%m-%d", time.gmtime(NOW))
    assert (a.days[-1]["delivered"], a.days[-3]["delivered"], a.days[-2]["delivered"]) == (1, 1, 0)
    assert a.days[-1]["opted_out"] == 1 and a.week["delivered"] == 2
    assert b.week["bounced"] == 1 and b.bounce.level == "too-few"  # 1 of 1: says little


def test_rates_and_their_limits(tmp_path: Path, fresh_store: Fresh) -> None:
    db = new_database(tmp_path, "calm", "spammy", "bouncy", "old", url=fresh_store())
    count(db, "calm", "delivered", 1000)
    count(db, "calm", "complained", 1)  # 0.1 %: not above the limit
    count(db, "calm", "bounced", 20)  # 20 of 1020: 1.96 %
    count(db, "spammy", "delivered", 1000)
    count(db, "spammy", "complained", 3)  # 0.3 %: trouble
    count(db, "bouncy", "delivered", 900)
    count(db, "bouncy", "bounced", 30)  # 3.2 %: a warning
    count(db, "old", "delivered", 100, days_ago=8)
    count(db, "old", "bounced", 100, days_ago=8)  # outside the 7 days
    rates = {r.shop: r for r in shop_rates(db.read(), NOW)}
    assert (rates["calm"].complaint.level, rates["calm"].bounce.level) == ("ok", "ok")
    assert rates["calm"].warnings == []
    assert rates["spammy"].complaint.level == "trouble" and rates["spammy"].complaint.value == 0.003
    assert rates["bouncy"].bounce.level == "warning"
    assert "bounce rate 3.23 % (30 of 930" in rates["bouncy"].warnings[0]
    assert rates["old"].week["bounced"] == 0 and rates["old"].days[-9]["bounced"] == 100
    count(db, "bouncy", "bounced", 30)  # 60 of 960: 6.25 %
    assert shop_rates(db.read(), NOW, "bouncy")[0].bounce.level == "trouble"


def test_relay_status_shows_rates_and_warns(tmp_path: Path, fresh_store: Fresh) -> None:
    relay = RelayProcess(tmp_path / "relay", "127.0.0.1:1", 25, store_url=fresh_store()).init()
    relay.add_shop()
    db = relay.open_db()
    count(db, "mein-shop", "delivered", 500)
    count(db, "mein-shop", "complained", 2)
    db.close()
    text = relay.run("status").stdout
    assert "WARNING shop mein-shop: complaint rate 0.40 % (2 of 500" in text
    assert "trouble from 0.3 %): trouble" in text
    assert "mein-shop: bounce 0.00 % (0/500), complaint 0.40 % (2/500)" in text
    (rates,) = relay.json("status")["rates"]
    assert rates["complaint_rate"]["level"] == "trouble" and len(rates["days"]) == 30
    assert rates["complaint_rate"]["warning_above"] == 0.001
