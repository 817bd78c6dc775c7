"""The AUTH throttle's shared state: failed logins per client address and shop name tried, and
the line of attempts each client address waits in (relay.smtp.auth), in the database so that
every worker of `relay serve` sees the same (SO_REUSEPORT spreads one client's connections over
all of them).

Every attempt takes a place in its address's line before its password is checked. Checks from
one address run one at a time, first come first served, and each starts `delay(failures)`
after the one before it ended: parallel sessions wait in line like one session, consecutive
answers to failed guesses are at least that far apart, and a shop that opens ten connections at
once (no failures) waits only for the checks themselves. An attempt that would wait more than
the horizon (every check ahead of it failing) is refused at once and never checked.

Taking a place and starting a check read the line, then write it: each holds the address's
lock (`serialize`) first, so that two workers, or two nodes on one PostgreSQL, never both find
the line empty and both start a check.
"""

import time
from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, changed, execute, insert, row, rows, serialize

_MAX_DOUBLINGS = 30  # 2**30 base delays: far past any cap, and no float overflow


@dataclass(frozen=True)
class Throttle:
    base: float  # the wait after one failure; it doubles with each further failure
    cap: float = 30.0
    horizon: float = 60.0  # an attempt that would wait longer is refused, unchecked
    forget_after: float = 900.0  # a quiet quarter hour forgets an address's failures
    # A check that has not ended this long after it started ended: its worker died (scrypt
    # takes 50 ms; a few seconds under the heaviest load).
    check_timeout: float = 20.0
    # An attempt row this old no longer counts: its session gave up at the horizon.
    stale_after: float = 180.0

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.cap, self.base * 2 ** min(failures - 1, _MAX_DOUBLINGS))


@dataclass(frozen=True)
class Line:
    """One address's state: what decides when its next check may start."""

    failures: int  # failed logins (any shop name) not yet forgotten
    running: bool  # a check has started and not yet ended
    waiting: list[int]  # attempts waiting for their turn, first in line first
    last_end: float | None  # when the last check ended

    def due(self, throttle: Throttle, now: float) -> bool:
        """Whether the first in line may start its check now."""
        if self.running:
            return False
        return self.last_end is None or now >= self.last_end + throttle.delay(self.failures)

    def turn_at(self, throttle: Throttle, ahead: int, now: float) -> float:
        """When an attempt with `ahead` others before it may expect its check to start. From
        an address that has failed, every check before it is expected to fail too; from one
        that has not, to succeed (a shop's parallel logins): then the estimate is the first in
        line's, and the attempt looks again from then on."""
        failures = self.failures + self.running
        if self.running or self.last_end is None:
            at = now + (throttle.delay(failures) if self.running else 0.0)
        else:
            at = max(now, self.last_end + throttle.delay(failures))
        for extra in range(1, (ahead if self.failures else 0) + 1):
            at += throttle.delay(failures + extra)
        return at


@dataclass(frozen=True)
class Turn:
    attempt: int | None  # the attempt's row; None: refused (it would wait past the horizon)
    started: bool  # its check may run now
    at: float  # when it expects its turn


def failures(conn: Conn, ip: str) -> dict[str, int]:
    """Failed logins from this address per shop name tried (for tests and `relay status`)."""
    found = rows(conn, "SELECT shop, count FROM auth_failures WHERE ip = ?", (ip,))
    return {r["shop"]: int(r["count"]) for r in found}


def expected_turn(conn: Conn, ip: str, throttle: Throttle, now: float) -> float:
    """When a new attempt from this address could expect its check (read only: a client that
    is refused costs no write)."""
    line = _line(conn, ip, now, throttle)
    return line.turn_at(throttle, len(line.waiting), now)


def queue_attempt(tx: Tx, ip: str, throttle: Throttle, now: float | None = None) -> Turn:
    """Take a place in the address's line; the check starts at once when nothing is ahead
    and no wait is due. Refused (no place taken) when the wait would pass the horizon."""
    now = time.time() if now is None else now
    serialize(tx, _line_lock(ip))
    line = _line(tx, ip, now, throttle)
    at = line.turn_at(throttle, len(line.waiting), now)
    if at - now > throttle.horizon:
        return Turn(None, False, at)
    _forget(tx, now, throttle)
    started = not line.waiting and line.due(throttle, now)
    attempt = insert(
        tx,
        "INSERT INTO auth_attempts (ip, queued_at, started_at) VALUES (?,?,?)",
        (ip, now, now if started else None),
    )
    return Turn(attempt, started, at)


def next_turn(conn: Conn, ip: str, attempt: int, throttle: Throttle, now: float) -> float:
    """When this waiting attempt may start (now or earlier: it may start; start_attempt says
    whether it did)."""
    line = _line(conn, ip, now, throttle)
    if attempt not in line.waiting:
        return now  # stale (forgotten), or started already: nothing to wait for
    ahead = line.waiting.index(attempt)
    if not ahead and line.due(throttle, now):
        return now
    return max(line.turn_at(throttle, ahead, now), now + 1e-3)


def start_attempt(tx: Tx, ip: str, attempt: int, throttle: Throttle, now: float) -> bool:
    """Start the check of a waiting attempt if it is first in line and its time has come
    (checked inside the write: another worker may have started one since the caller looked)."""
    serialize(tx, _line_lock(ip))
    line = _line(tx, ip, now, throttle)
    if line.waiting[:1] != [attempt] or not line.due(throttle, now):
        return False
    return bool(
        changed(
            tx,
            "UPDATE auth_attempts SET started_at = ? WHERE id = ? AND started_at IS NULL",
            (now, attempt),
        )
    )


def finish_attempt(
    tx: Tx, ip: str, shop: str, attempt: int, failed: bool | None, now: float | None = None
) -> None:
    """The check ended. `failed`: True adds a failure for (address, shop name); False, a
    success, clears that shop name's failures from that address and nothing else; None, the
    client left before hearing the answer (it learnt nothing: nothing counted)."""
    now = time.time() if now is None else now
    execute(tx, "UPDATE auth_attempts SET finished_at = ? WHERE id = ?", (now, attempt))
    if failed is None:
        return
    if not failed:
        execute(tx, "DELETE FROM auth_failures WHERE ip = ? AND shop = ?", (ip, shop))
        return
    execute(
        tx,
        "INSERT INTO auth_failures (ip, shop, count, last) VALUES (?, ?, 1, ?)"
        " ON CONFLICT (ip, shop) DO UPDATE"
        " SET count = auth_failures.count + 1, last = excluded.last",
        (ip, shop, now),
    )


def drop_attempt(tx: Tx, attempt: int) -> None:
    """An attempt whose session ended before its check started leaves the line."""
    execute(tx, "DELETE FROM auth_attempts WHERE id = ? AND started_at IS NULL", (attempt,))


def _line_lock(ip: str) -> str:
    return f"auth-line:{ip}"


def _line(conn: Conn, ip: str, now: float, throttle: Throttle) -> Line:
    found = row(
        conn,
        "SELECT sum(count) AS n FROM auth_failures WHERE ip = ? AND last >= ?",
        (ip, now - throttle.forget_after),
    )
    attempts = rows(
        conn,
        "SELECT id, started_at, finished_at FROM auth_attempts WHERE ip = ? AND queued_at >= ?"
        " ORDER BY id",
        (ip, now - throttle.stale_after),
    )
    running = [
        r
        for r in attempts
        if r["started_at"] is not None
        and r["finished_at"] is None
        and now - r["started_at"] < throttle.check_timeout
    ]
    ends = [_end(r, throttle) for r in attempts if r["started_at"] is not None]
    return Line(
        failures=int(found["n"] or 0) if found else 0,
        running=bool(running),
        waiting=[int(r["id"]) for r in attempts if r["started_at"] is None],
        last_end=max(ends) if ends else None,
    )


def _end(attempt: Any, throttle: Throttle) -> float:
    if attempt["finished_at"] is not None:
        return float(attempt["finished_at"])
    return float(attempt["started_at"]) + throttle.check_timeout  # running, or timed out


def _forget(tx: Tx, now: float, throttle: Throttle) -> None:
    # Scanners that fail once and never return must not grow the tables.
    execute(tx, "DELETE FROM auth_failures WHERE last < ?", (now - throttle.forget_after,))
    execute(tx, "DELETE FROM auth_attempts WHERE queued_at < ?", (now - throttle.stale_after,))
