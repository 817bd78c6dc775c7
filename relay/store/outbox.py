"""The webhook outbox (the transactional outbox): one row per event a shop is told about.

A row is written in the transaction of the event it reports (relay.store.outcomes), so an event
a shop hears about always exists and one that exists is always told. The outbox worker
(relay.webhooks.outbox) claims due rows under a lease, POSTs them and records the result here;
a row whose lease ran out (its worker died) is claimed again: at least once, never lost.

Order: the rows of one `sequence` (a message) go out one after the other. A row is claimed
only when no earlier row of its sequence is still pending, so a retried `message.deferred`
cannot arrive after the `message.delivered` that followed it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from relay.store.sql import Conn, Tx, changed, execute, marks, row, rows, value


class OutboxState(StrEnum):
    PENDING = "pending"  # to be sent (now or at next_attempt_at)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # retried until webhooks.max_age, never accepted
    DROPPED = "dropped"  # the endpoint was removed or answered 410 (Gone)


@dataclass(frozen=True)
class NewRow:
    shop: str
    webhook_id: str
    type: str
    message: str | None
    recipient: int | None
    sequence: str
    body: bytes
    created_at: float


def enqueue(tx: Tx, new: NewRow) -> None:
    execute(
        tx,
        "INSERT INTO webhook_outbox (shop, webhook_id, type, message, recipient, sequence, body,"
        " created_at, state, next_attempt_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            new.shop,
            new.webhook_id,
            new.type,
            new.message,
            new.recipient,
            new.sequence,
            new.body,
            new.created_at,
            str(OutboxState.PENDING),
            new.created_at,
        ),
    )


_PENDING = f"'{OutboxState.PENDING}'"
_FREE = "(o.lease_expires IS NULL OR o.lease_expires < ?)"
# Due rows whose sequence has no earlier pending row, oldest first.
_CANDIDATES = f"""
SELECT o.id, o.shop FROM webhook_outbox o
WHERE o.state = {_PENDING} AND o.next_attempt_at <= ? AND {_FREE} %s
  AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.sequence = o.sequence
                  AND p.state = {_PENDING} AND p.id < o.id)
ORDER BY o.next_attempt_at, o.id LIMIT ?
"""
_TAKE = f"""
UPDATE webhook_outbox SET lease_owner = ?, lease_expires = ?
WHERE id IN (%s) AND state = {_PENDING} AND (lease_expires IS NULL OR lease_expires < ?)
RETURNING id, shop, webhook_id, type, body, attempts, created_at
"""


@functools.cache
def _candidates_sql(skip_shops: int) -> str:
    return _CANDIDATES % (f"AND o.shop NOT IN ({marks(skip_shops)})" if skip_shops else "")


@dataclass(frozen=True)
class Claimed:
    id: int
    shop: str
    webhook_id: str
    type: str
    body: bytes
    attempts: int  # POSTs made before this one
    created_at: float


def claim(
    tx: Tx,
    owner: str,
    lease: float,
    limit: int,
    now: float,
    *,
    skip_shops: tuple[str, ...] = (),
    per_shop: int = 1_000_000,
    in_flight: dict[str, int] | None = None,
) -> list[Claimed]:
    """Take up to `limit` due rows under a lease: the first pending row of each sequence only,
    none of `skip_shops`, and no more of one shop than `per_shop` minus what the caller has of
    it `in_flight`. Oldest first.

    A select, then a guarded update, in the caller's transaction: on SQLite that transaction
    is the only writer; on PostgreSQL the outbox runs on one node (the periodic-work lock),
    and the update's guard skips a row another claimer took meanwhile."""
    held = dict(in_flight or {})
    found = rows(tx, _candidates_sql(len(skip_shops)), (now, now, *skip_shops, limit * 4))
    chosen = []
    for candidate in found:
        shop = candidate["shop"]
        if held.get(shop, 0) < per_shop and len(chosen) < limit:
            held[shop] = held.get(shop, 0) + 1
            chosen.append(candidate["id"])
    if not chosen:
        return []
    taken = rows(tx, _TAKE % marks(len(chosen)), (owner, now + lease, *chosen, now))
    claimed = [
        Claimed(
            r["id"],
            r["shop"],
            r["webhook_id"],
            r["type"],
            bytes(r["body"]),
            r["attempts"],
            r["created_at"],
        )
        for r in taken
    ]
    return sorted(claimed, key=lambda c: c.id)  # RETURNING keeps no order; oldest first


def any_due(conn: Conn, now: float) -> bool:
    """A cheap read before a claim (a claim is a write: an idle relay must not write)."""
    return (
        value(
            conn,
            f"SELECT 1 FROM webhook_outbox WHERE state = {_PENDING} AND next_attempt_at <= ?"
            " AND (lease_expires IS NULL OR lease_expires < ?) LIMIT 1",
            (now, now),
        )
        is not None
    )


def any_pending(conn: Conn) -> bool:
    return value(conn, f"SELECT 1 FROM webhook_outbox WHERE state = {_PENDING} LIMIT 1") is not None


def renew(tx: Tx, owner: str, ids: list[int], until: float) -> int:
    """Extend the leases of the rows `owner` is sending now; a row it gave up on (its result
    could not be saved) is not among them, so its lease runs out and it is sent again."""
    if not ids:
        return 0
    return changed(
        tx,
        f"UPDATE webhook_outbox SET lease_expires = ? WHERE state = {_PENDING}"
        f" AND lease_owner = ? AND id IN ({marks(len(ids))})",
        (until, owner, *ids),
    )


def next_due(conn: Conn) -> float | None:
    found = value(conn, f"SELECT min(next_attempt_at) FROM webhook_outbox WHERE state = {_PENDING}")
    return None if found is None else float(found)


@dataclass(frozen=True)
class Result:
    """What one POST came to, to be recorded."""

    id: int
    outcome: str  # relay.webhooks.Outcome value
    status: int | None
    error: str
    at: float
    next_attempt_at: float | None  # None: no further try (delivered, or given up)
    final_state: OutboxState | None  # set when the row is finished


def record(tx: Tx, owner: str, result: Result) -> bool:
    """Record one POST; only while `owner` holds the row's lease (a worker whose lease ran out
    and was taken over records nothing: the new holder does). Whether it applied."""
    state = result.final_state or OutboxState.PENDING
    finished = result.at if result.final_state else None
    return bool(
        changed(
            tx,
            "UPDATE webhook_outbox SET state = ?, attempts = attempts + 1, next_attempt_at = ?,"
            " lease_owner = NULL, lease_expires = NULL, last_attempt_at = ?, last_outcome = ?,"
            " last_status = ?, last_error = ?, finished_at = ?"
            f" WHERE id = ? AND state = {_PENDING} AND lease_owner = ?",
            (
                str(state),
                result.next_attempt_at,
                result.at,
                result.outcome,
                result.status,
                result.error or None,
                finished,
                result.id,
                owner,
            ),
        )
    )


def drop(tx: Tx, owner: str, row_id: int, why: str, now: float) -> bool:
    """Finish a row without a POST (the shop's endpoint is gone or disabled)."""
    return bool(
        changed(
            tx,
            f"UPDATE webhook_outbox SET state = '{OutboxState.DROPPED}', lease_owner = NULL,"
            " lease_expires = NULL, last_error = ?, finished_at = ?"
            f" WHERE id = ? AND state = {_PENDING} AND lease_owner = ?",
            (why, now, row_id, owner),
        )
    )


def drop_pending(tx: Tx, shop: str, why: str, now: float) -> int:
    """Finish every pending row of a shop (its endpoint was removed or answered 410)."""
    return changed(
        tx,
        f"UPDATE webhook_outbox SET state = '{OutboxState.DROPPED}', lease_owner = NULL,"
        " lease_expires = NULL, last_error = ?, finished_at = ?"
        f" WHERE shop = ? AND state = {_PENDING}",
        (why, now, shop),
    )


def release(tx: Tx, owner: str) -> int:
    """Give back every lease of `owner` (a worker that stops): due again at once."""
    return changed(
        tx,
        "UPDATE webhook_outbox SET lease_owner = NULL, lease_expires = NULL"
        f" WHERE state = {_PENDING} AND lease_owner = ?",
        (owner,),
    )


@dataclass(frozen=True)
class Backlog:
    shop: str
    pending: int
    oldest_at: float | None  # when the oldest pending event happened
    failed: int  # given up (after webhooks.max_age) in the window asked for
    last_error: str | None  # of the most recent failed POST
    last_error_at: float | None


def backlog(conn: Conn, since: float, shop: str | None = None) -> list[Backlog]:
    """Per shop with anything pending, given up since `since`, or failing now: the backlog
    and the last error."""
    where, args = ("AND shop = ?", (shop,)) if shop else ("", ())
    pending = {
        r["shop"]: r
        for r in rows(
            conn,
            "SELECT shop, count(*) AS n, min(created_at) AS oldest_at FROM webhook_outbox"
            f" WHERE state = {_PENDING} {where} GROUP BY shop",
            args,
        )
    }
    failed = {
        r["shop"]: r["n"]
        for r in rows(
            conn,
            "SELECT shop, count(*) AS n FROM webhook_outbox WHERE finished_at >= ?"
            f" AND state = '{OutboxState.FAILED}' {where} GROUP BY shop",
            (since, *args),
        )
    }
    out = []
    for name in sorted(set(pending) | set(failed)):
        error = _last_error(conn, name)
        waiting = pending.get(name)
        out.append(
            Backlog(
                name,
                int(waiting["n"]) if waiting else 0,
                waiting["oldest_at"] if waiting else None,
                int(failed.get(name, 0)),
                error["last_error"] if error else None,
                error["last_attempt_at"] if error else None,
            )
        )
    return out


def waiting_per_shop(conn: Conn) -> dict[str, int]:
    """Events not yet told, per shop (the /metrics webhook backlog)."""
    found = rows(
        conn,
        f"SELECT shop, count(*) AS n FROM webhook_outbox WHERE state = {_PENDING} GROUP BY shop",
    )
    return {r["shop"]: int(r["n"]) for r in found}


def purge_finished(tx: Tx, before: float) -> int:
    """Forget rows finished before `before` (the event itself stays in the event log)."""
    return changed(
        tx,
        f"DELETE FROM webhook_outbox WHERE finished_at < ? AND state <> {_PENDING}",
        (before,),
    )


def _last_error(conn: Conn, shop: str) -> Any:
    """The newest failed POST of a shop, unless a POST has succeeded since."""
    found = row(
        conn,
        "SELECT last_error, last_attempt_at, last_outcome FROM webhook_outbox"
        " WHERE shop = ? AND last_attempt_at IS NOT NULL ORDER BY last_attempt_at DESC LIMIT 1",
        (shop,),
    )
    if found is None or found["last_outcome"] == "delivered":
        return None
    return found


def deliveries(conn: Conn, shop: str, limit: int = 20) -> list[dict[str, Any]]:
    """The shop's most recent outbox rows (what `relay shop webhook` shows)."""
    found = rows(
        conn,
        "SELECT id, webhook_id, type, message, state, attempts, created_at, next_attempt_at,"
        " last_attempt_at, last_outcome, last_status, last_error, finished_at"
        " FROM webhook_outbox WHERE shop = ? ORDER BY id DESC LIMIT ?",
        (shop, limit),
    )
    return [dict(r) for r in found]
