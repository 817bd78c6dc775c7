"""The recipient state machine: every change of `recipients.state`, each a guarded UPDATE.

Each statement's guard (`state IN (...)`, plus `lease_owner = ?` where a lease applies) is
derived from relay.model.TRANSITIONS and checked against it at import, so no function here can
make a move the model does not allow. Each returns whether (or how often) it applied: a
delivery result that lands after a DSN has bounced the row finds its lease gone and changes
nothing but the attempt log; a DSN after `delivered` still bounces the row (SPEC "Delivery").

Leases (DESIGN "several nodes"): a claim writes the owner (`node/worker`), the node, when the
lease ends and when it was taken; the owner renews its leases while it works; a lease that
ended may be taken over by any claimer. The claim also moves the next attempt a retry interval
ahead (as mox does), so rows held by a process that crashed become due after that interval,
not at once, and a message that crashes the relay cannot crash it again in a loop.
"""

import functools
import socket
import time
from dataclasses import dataclass
from typing import Any

from relay.model import DeliveryResult, EventKind, State, may_move
from relay.store import hooks
from relay.store.events import add_event
from relay.store.sql import Conn, Tx, changed, execute, marks, quoted, rows, value
from relay.store.suppression import add_block


def node_name(configured: str) -> str:
    """`[store] node`, or the host name when it is empty."""
    return configured or socket.gethostname()


def lease_owner(node: str, worker: int, pid: int) -> str:
    """Who holds a lease: the node and one process of it (the supervisor names a dead
    worker's leases the same way to release them)."""
    return f"{node}/w{worker}.{pid}"


@dataclass(frozen=True)
class Lease:
    node: str
    owner: str
    duration: float  # a lease not renewed for this long may be taken over
    retry: float  # the claim sets the next attempt this far ahead (a crash retries then)


def _guard(target: State, *froms: State) -> str:
    """`state IN (...)` for a move to `target`; refuses (at import) a move the model forbids."""
    for source in froms:
        if not may_move(source, target):
            raise AssertionError(f"relay.model.TRANSITIONS does not allow {source} -> {target}")
    return f"state IN ({quoted(froms)})"


_INFLIGHT = f"'{State.INFLIGHT}'"
_NO_LEASE = "lease_node = NULL, lease_owner = NULL, lease_expires = NULL, claimed_at = NULL"

# Due rows, and rows whose lease ended without a result (their holder died or hung); oldest
# first, but round-robin across domains (each domain's oldest, then each one's second, ...)
# and at most `per_domain` of one domain, so that a backlog for one dead or slow destination
# never fills a claim (Postfix's queue manager serves destinations round-robin). `%(skip)s`
# leaves out domains the claimer holds enough of already. The window function ranks an inner
# SELECT of its own: PostgreSQL allows no FOR UPDATE beside a window function.
_CLAIM = f"""
UPDATE recipients SET state = {_INFLIGHT}, lease_node = ?, lease_owner = ?,
    lease_expires = ?, claimed_at = ?, next_attempt_at = ?, updated_at = ?
WHERE id IN (
    SELECT id FROM (
        SELECT id, next_attempt_at,
            ROW_NUMBER() OVER (PARTITION BY domain ORDER BY next_attempt_at, id) AS turn
        FROM (
            SELECT id, domain, next_attempt_at FROM recipients
            WHERE {_guard(State.INFLIGHT, State.QUEUED, State.DEFERRED, State.INFLIGHT)}
              AND next_attempt_at <= ? AND (state <> {_INFLIGHT} OR lease_expires < ?)
              %(skip)s
            ORDER BY next_attempt_at LIMIT ? %(lock)s) AS due) AS ranked
    WHERE turn <= ? ORDER BY turn, next_attempt_at, id LIMIT ?)
RETURNING id, message, address, domain, attempts, created_at
"""
SCAN = 4  # due rows looked at per row claimed (others behind a backlog: domains held skip)


@functools.cache
def _claim_sql(lock: str, skipped: int) -> str:
    skip = f"AND domain NOT IN ({marks(skipped)})" if skipped else ""
    return _CLAIM % {"lock": lock, "skip": skip}


def claim_due(
    tx: Tx,
    lease: Lease,
    limit: int,
    now: float | None = None,
    *,
    per_domain: int | None = None,
    skip_domains: tuple[str, ...] = (),
) -> list[dict]:
    """Atomically take up to `limit` due rows (one UPDATE ... RETURNING), at most `per_domain`
    of one domain and none of `skip_domains`: no row goes to two lanes, on one node or
    several (PostgreSQL: the inner SELECT skips locked rows)."""
    now = time.time() if now is None else now
    args = (lease.node, lease.owner, now + lease.duration, now, now + lease.retry, now)
    sql = _claim_sql(tx.dialect.claim_lock, len(skip_domains))
    chosen = (now, now, *skip_domains, limit * SCAN, per_domain or limit, limit)
    claimed = [dict(r) for r in rows(tx, sql, (*args, *chosen))]
    if claimed:
        # The shop and envelope domain of each message, in one more statement per claim
        # (SQLite uses no index for a subquery in RETURNING: that would scan the messages
        # table once per row).
        ids = list({r["message"] for r in claimed})
        found = rows(
            tx,
            f"SELECT id, shop, kind, return_path, size FROM messages"
            f" WHERE id IN ({marks(len(ids))})",
            ids,
        )
        of = {r["id"]: r for r in found}
        for row in claimed:
            message = of.get(row["message"])
            row["shop"], row["kind"] = (message["shop"], message["kind"]) if message else (None, "")
            row["return_path"] = message["return_path"] if message else None
            row["size"] = message["size"] if message else 0
    return claimed


def renew_leases(tx: Tx, owner: str, duration: float, now: float | None = None) -> int:
    """Extend every lease `owner` holds; how many."""
    until = (time.time() if now is None else now) + duration
    return changed(
        tx,
        f"UPDATE recipients SET lease_expires = ? WHERE state = {_INFLIGHT} AND lease_owner = ?",
        (until, owner),
    )


_RELEASE = (
    f"UPDATE recipients SET state = '{State.QUEUED}', {_NO_LEASE}, updated_at = ?"
    f" WHERE {_guard(State.QUEUED, State.INFLIGHT)}"
)


def release_leases(tx: Tx, *, owner: str | None = None, node: str | None = None) -> int:
    """Give back the leases of one process (a worker that died) or of a whole node (its
    start: nothing of it runs yet). The next attempt stays where the claim put it, a retry
    interval after the claim: the message may have been sent just before the crash."""
    if (owner is None) == (node is None):
        raise ValueError("release the leases of an owner or of a node")
    column, holder = ("lease_owner", owner) if owner is not None else ("lease_node", node)
    return changed(tx, f"{_RELEASE} AND {column} = ?", (time.time(), holder))


def release_unsent(tx: Tx, owner: str, ids: list[int]) -> int:
    """Give back rows that were claimed but never sent (shutdown): due again at once."""
    if not ids:
        return 0
    now = time.time()
    return changed(
        tx,
        f"UPDATE recipients SET state = '{State.QUEUED}', {_NO_LEASE}, next_attempt_at = ?,"
        f" updated_at = ? WHERE {_guard(State.QUEUED, State.INFLIGHT)} AND lease_owner = ?"
        f" AND id IN ({marks(len(ids))})",
        (now, now, owner, *ids),
    )


_EVENT = {
    State.DELIVERED: EventKind.DELIVERED,
    State.DEFERRED: EventKind.DEFERRED,
    State.BOUNCED: EventKind.BOUNCED,
    State.FAILED: EventKind.FAILED,
}
_RESULT = {
    target: (
        f"UPDATE recipients SET state = '{target}', reason = ?, detail = ?,"
        f" attempts = attempts + 1, next_attempt_at = ?, {_NO_LEASE}, last_code = ?,"
        f" last_status = ?, last_text = ?, updated_at = ?"
        f" WHERE id = ? AND {_guard(target, State.INFLIGHT)} AND lease_owner = ?"
    )
    for target in _EVENT
}


def record_attempt(tx: Tx, result: DeliveryResult, owner: str) -> bool:
    """The attempt, the row's new state and its event, in the caller's transaction. The
    attempt is always kept; the state only moves while `owner` still holds the lease (a DSN
    that bounced the row meanwhile, or a claimer that took an expired lease over, wins)."""
    now = time.time()
    applied = changed(
        tx,
        _RESULT[result.state],
        (
            result.reason,
            result.detail,
            result.next_attempt_at,
            result.code,
            result.status,
            result.text,
            now,
            result.recipient,
            owner,
        ),
    )
    execute(
        tx,
        "INSERT INTO attempts (recipient, at, mx_host, code, status, text, tls, duration_ms)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (
            result.recipient,
            now,
            result.mx_host,
            result.code,
            result.status,
            result.text,
            int(result.tls),
            result.duration_ms,
        ),
    )
    if applied:
        add_event(
            tx,
            _EVENT[result.state],
            shop=result.shop,
            message=result.message,
            recipient=result.recipient,
            at=now,
            reply=result.reply,
            mx=result.mx_host,
            reason=result.reason,
            next_attempt_at=result.next_attempt_at,
        )
    if result.block_address:  # the reply proves the address dead, whoever holds the row
        source = f"delivery:{result.recipient}"
        add_block(tx, result.address, result.reason or "dead", source, note=result.reply)
    return bool(applied)


_SUPPRESS = (
    f"UPDATE recipients SET state = '{State.SUPPRESSED}', reason = ?, detail = ?,"
    f" next_attempt_at = NULL, {_NO_LEASE}, updated_at = ?"
    f" WHERE id = ? AND {_guard(State.SUPPRESSED, State.INFLIGHT)} AND lease_owner = ?"
)


def suppress_claimed(tx: Tx, owner: str, row: dict, reason: str, detail: str) -> bool:
    """A claimed row that must not be sent any more (its address was blocked, or the customer
    opted out, after it was queued): suppressed, with its event, instead of sent."""
    now = time.time()
    applied = changed(tx, _SUPPRESS, (reason, detail, now, row["id"], owner))
    if applied:
        add_event(
            tx,
            EventKind.SUPPRESSED,
            shop=row["shop"],
            message=row["message"],
            recipient=row["id"],
            at=now,
            reason=reason,
            detail=detail,
        )
    return bool(applied)


_QUARANTINE = (
    f"UPDATE recipients SET state = '{State.QUARANTINED}', detail = ?, {_NO_LEASE},"
    f" updated_at = ? WHERE {_guard(State.QUARANTINED, State.INFLIGHT)} AND lease_owner = ?"
)


def quarantine(tx: Tx, owner: str, ids: list[int], trace: str) -> int:
    """A bug stopped a lane: park its rows with the traceback; `relay queue retry` frees them."""
    if not ids:
        return 0
    now = time.time()
    parked = rows(
        tx,
        f"{_QUARANTINE} AND id IN ({marks(len(ids))}) RETURNING id, message",
        (trace, now, owner, *ids),
    )
    for found in parked:
        add_event(
            tx,
            EventKind.QUARANTINED,
            message=found["message"],
            recipient=found["id"],
            at=now,
            traceback=trace[-2000:],
        )
    return len(parked)


# Every state a message may have left the relay in: a DSN can bounce these.
_SENT = (State.QUEUED, State.DEFERRED, State.INFLIGHT, State.DELIVERED, State.QUARANTINED)
_BOUNCE = (
    f"UPDATE recipients SET state = '{State.BOUNCED}', reason = ?, detail = ?, last_code = ?,"
    f" last_status = ?, last_text = ?, next_attempt_at = NULL, {_NO_LEASE}, updated_at = ?"
    f" WHERE id = ? AND {_guard(State.BOUNCED, *_SENT)}"
)


@dataclass(frozen=True)
class Bounce:
    """What a bounce report says about one recipient."""

    reason: str
    status: str | None
    code: int | None
    diagnostic: str


def mark_bounced(tx: Tx, recipient: dict[str, Any], bounce: Bounce, **detail: Any) -> bool:
    """A DSN: bounced, from any state the message could have left in (also `delivered`, and
    `inflight`: the lane's result that lands later is then kept as an attempt only). False
    when the row is bounced, failed or suppressed already (a repeated report counts once).
    `recipient` has the row's id, message and shop; `detail` goes into the event."""
    now = time.time()
    args = (bounce.reason, bounce.diagnostic, bounce.code, bounce.status, bounce.diagnostic)
    applied = changed(tx, _BOUNCE, (*args, now, recipient["id"]))
    if applied:
        add_event(
            tx,
            EventKind.BOUNCED,
            shop=recipient["shop"],
            message=recipient["message"],
            recipient=recipient["id"],
            at=now,
            reason=bounce.reason,
            status=bounce.status,
            diagnostic=bounce.diagnostic,
            **detail,
        )
        if hooks.observed():
            kind = value(tx, "SELECT kind FROM messages WHERE id = ?", (recipient["message"],))
            hooks.tell(tx, str(State.BOUNCED), recipient["shop"], kind or "")
    return bool(applied)


_RETRY = (
    f"UPDATE recipients SET state = '{State.QUEUED}', next_attempt_at = ?, updated_at = ?"
    f" WHERE {_guard(State.QUEUED, State.DEFERRED, State.QUARANTINED)}"
)


def retry_now(tx: Tx, *, message: str | None = None, every_deferred: bool = False) -> int:
    """Make one message's deferred and quarantined rows due now, or every deferred row
    (`relay queue retry|flush`); how many."""
    now = time.time()
    if every_deferred:
        sql, args = f"{_RETRY} AND state = '{State.DEFERRED}'", (now, now)
    elif message is not None:
        sql, args = f"{_RETRY} AND message = ?", (now, now, message)
    else:
        raise ValueError("retry one message or every deferred row")
    moved = rows(tx, sql + " RETURNING id, message", args)
    for found in moved:
        add_event(tx, EventKind.RETRY, message=found["message"], recipient=found["id"], at=now)
    execute(tx, _BUMP_RETRIES)
    return len(moved)


# Counts `relay queue retry|flush`: a scheduler that sees it change forgets the destinations it
# holds for unreachable, so what the operator retries is tried (as Postfix's flush of dead sites).
_BUMP_RETRIES = (
    "INSERT INTO meta (key, value) VALUES ('queue_retries', 1)"
    " ON CONFLICT (key) DO UPDATE SET value = meta.value + 1"
)


def retries_version(conn: Conn) -> int:
    """A number that changes whenever `relay queue retry` or `flush` ran."""
    return int(value(conn, "SELECT value FROM meta WHERE key = 'queue_retries'") or 0)


_NOT_YET_DUE = (
    f"UPDATE recipients SET next_attempt_at = ?, updated_at = ?"
    f" WHERE state = '{State.QUEUED}' AND next_attempt_at > ? RETURNING id, message"
)


def flush_all(tx: Tx) -> int:
    """`relay queue flush`: every deferred row due now, and every queued row that waits for
    a later time too (given back after a crash, its claim set the next attempt a retry
    interval ahead: the message may have been sent just before); how many."""
    now = time.time()
    waiting = rows(tx, _NOT_YET_DUE, (now, now, now))  # before the deferred ones join them
    for found in waiting:
        add_event(tx, EventKind.RETRY, message=found["message"], recipient=found["id"], at=now)
    return len(waiting) + retry_now(tx, every_deferred=True)
