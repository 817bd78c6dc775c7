"""The AUTH throttle's line per client address (relay.store.auth), on a real SQLite store with
the clock given: when each check may start, what a running check and a success count, what
a success clears, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.smtp.admission import client_key
from relay.store.auth import (
    Throttle,
    drop_attempt,
    failures,
    finish_attempt,
    next_turn,
    queue_attempt,
    start_attempt,
)
from relay.store.db import Database, open_database

T = Throttle(base=1.0, cap=30.0, horizon=60.0)
IP = "192.0.2.7"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_database("sqlite:///relay.db", tmp_path, create=True)


def _queue(db: Database, now: float, ip: str = IP):  # type: ignore[no-untyped-def]
    with db.transaction() as tx:
        return queue_attempt(tx, ip, T, now)


def _finish(db: Database, attempt: int, shop: str, failed: bool | None, now: float) -> None:
    with db.transaction() as tx:
        finish_attempt(tx, IP, shop, attempt, failed, now)


def _start(db: Database, attempt: int, now: float) -> bool:
    with db.transaction() as tx:
        return start_attempt(tx, IP, attempt, T, now)


def test_checks_run_one_at_a_time_each_a_delay_after_the_last_ended(db: Database) -> None:
    earlier = _queue(db, 50.0)
    _finish(db, earlier.attempt, "shop-b", failed=True, now=50.1)  # the address failed once
    first = _queue(db, 100.0)
    assert first.started and first.at == 100.0  # 1 s after the last check ended: due
    second = _queue(db, 100.0)  # parallel sessions, while the first check runs
    third = _queue(db, 100.0)
    assert not second.started and second.at == 102.0  # expected: the first fails too, 2 s
    assert third.at == 106.0  # then 4 s more, as one session would wait
    assert not _start(db, second.attempt, 101.0)  # the first check still runs
    _finish(db, first.attempt, "shop-b", failed=True, now=100.1)
    assert next_turn(db.read(), IP, second.attempt, T, 101.0) == 102.1  # 2 s after it ended
    assert not _start(db, second.attempt, 102.0)
    assert not _start(db, third.attempt, 102.1)  # not first in line
    assert _start(db, second.attempt, 102.1)
    _finish(db, second.attempt, "shop-b", failed=True, now=102.5)
    assert next_turn(db.read(), IP, third.attempt, T, 103.0) == 106.5  # three failures: 4 s
    assert failures(db.read(), IP) == {"shop-b": 3}


def test_from_a_clean_address_the_line_expects_successes(db: Database) -> None:
    """No failures yet: the attempts behind a running check expect it to succeed, so none of a
    shop's parallel logins is refused for a wait it will not have."""
    first = _queue(db, 100.0)
    behind = [_queue(db, 100.0) for _ in range(9)]
    assert first.started and all(t.attempt and not t.started for t in behind)
    assert {t.at for t in behind} == {101.0}  # the first in line's: 1 s if the check failed
    _finish(db, first.attempt, "mein-shop", failed=False, now=100.05)
    assert not _start(db, behind[1].attempt, 100.06)  # only the first in line starts
    assert _start(db, behind[0].attempt, 100.06)


def test_a_check_whose_worker_died_ends_after_the_check_timeout(db: Database) -> None:
    stuck = _queue(db, 100.0)  # started, never finished
    assert stuck.started
    waiting = _queue(db, 100.0)
    assert not _start(db, waiting.attempt, 100.0 + T.check_timeout - 1)
    assert _start(db, waiting.attempt, 100.0 + T.check_timeout)


def test_a_success_ahead_lets_the_next_check_start_at_once(db: Database) -> None:
    """A shop opening several connections at once waits only for the checks themselves."""
    first = _queue(db, 100.0)
    second = _queue(db, 100.0)
    _finish(db, first.attempt, "mein-shop", failed=False, now=100.05)
    assert next_turn(db.read(), IP, second.attempt, T, 100.06) == 100.06
    assert _start(db, second.attempt, 100.06)


def test_a_success_clears_its_own_shop_from_its_address_and_nothing_else(db: Database) -> None:
    now = 100.0
    for shop, failed in (("shop-b", True), ("mein-shop", True), ("shop-b", True)):
        turn = _queue(db, now)
        _finish(db, turn.attempt, shop, failed=failed, now=now)
        now += 40
    with db.transaction() as tx:  # the same shop from another address: untouched
        other = queue_attempt(tx, "192.0.2.8", T, now)
        finish_attempt(tx, "192.0.2.8", "mein-shop", other.attempt, True, now)
    turn = _queue(db, now)
    _finish(db, turn.attempt, "mein-shop", failed=False, now=now)
    assert failures(db.read(), IP) == {"shop-b": 2}
    assert failures(db.read(), "192.0.2.8") == {"mein-shop": 1}
    # Two failures still stand against the address: the next check waits 2 s.
    assert _queue(db, now + 0.1).at == now + 2.0


def test_an_attempt_that_would_wait_past_the_horizon_is_refused_unqueued(db: Database) -> None:
    now = 100.0
    for _ in range(7):  # 7 failures: 30 s (the cap) between checks from now on
        turn = _queue(db, now)
        _finish(db, turn.attempt, "shop-b", failed=True, now=now)
        now += 31
    placed = [_queue(db, now) for _ in range(4)]  # four sessions at once
    assert [t.attempt is not None for t in placed] == [True, True, True, False]
    assert [t.at - now for t in placed] == [0.0, 30.0, 60.0, 90.0]
    waiting = [t.attempt for t in placed[1:3]]
    with db.transaction() as tx:  # the first waiting one's session ends: it leaves the line
        drop_attempt(tx, waiting[0])  # type: ignore[arg-type]
    assert next_turn(db.read(), IP, waiting[1], T, now) == now + 30.0  # type: ignore[arg-type]


def test_a_client_that_leaves_during_its_check_counts_no_failure(db: Database) -> None:
    turn = _queue(db, 100.0)
    _finish(db, turn.attempt, "shop-b", failed=None, now=100.1)
    assert failures(db.read(), IP) == {}
    assert _queue(db, 100.2).started


def test_failures_and_attempts_are_forgotten_after_a_quiet_quarter_hour(db: Database) -> None:
    turn = _queue(db, 100.0)
    _finish(db, turn.attempt, "shop-b", failed=True, now=100.0)
    later = _queue(db, 100.0 + T.forget_after + 1)
    assert later.started
    assert failures(db.read(), IP) == {}


def test_the_delay_doubles_to_its_cap_without_overflow() -> None:
    assert [T.delay(n) for n in (0, 1, 2, 3, 5, 6, 10_000)] == [0, 1, 2, 4, 16, 30, 30]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same host's block
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("unix-socket", "unix-socket"),
    ],
)
def test_the_throttle_counts_ipv6_clients_per_64(address: str, key: str) -> None:
    assert client_key(address) == key
