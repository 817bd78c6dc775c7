"""Problems: mandatory mail that did not reach the customer, open until acknowledged (SPEC
"API and webhooks": shown by `relay status`, `relay problems`, the API and the console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, changed, insert, row, rows, serialize


@dataclass(frozen=True)
class Problem:
    id: int
    shop: str
    message: str
    recipient: int
    address: str
    kind: str
    order_ref: str | None
    cause: str  # bounced | failed | suppressed | expired
    reason: str | None
    created_at: float
    acked_at: float | None
    acked_by: str | None

    @property
    def open(self) -> bool:
        return self.acked_at is None


def _problem(found: Any) -> Problem:
    return Problem(**{k: found[k] for k in Problem.__dataclass_fields__})


def open_problem(
    tx: Tx,
    *,
    shop: str,
    message: str,
    recipient: int,
    address: str,
    kind: str,
    order_ref: str | None,
    cause: str,
    reason: str | None,
    at: float,
) -> int | None:
    """The new problem's id; None when the recipient has one already (it ends only once).
    Under the recipient's lock: of two transactions that end one recipient at once (two
    reports about it on two nodes), the second finds the first's problem instead of failing
    on the unique recipient."""
    serialize(tx, f"problem:{recipient}")
    if row(tx, "SELECT 1 FROM problems WHERE recipient = ?", (recipient,)) is not None:
        return None
    return insert(
        tx,
        "INSERT INTO problems (shop, message, recipient, address, kind, order_ref, cause,"
        " reason, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (shop, message, recipient, address, kind, order_ref, cause, reason, at),
    )


def get_problem(conn: Conn, problem_id: int) -> Problem | None:
    found = row(conn, "SELECT * FROM problems WHERE id = ?", (problem_id,))
    return _problem(found) if found else None


def list_problems(
    conn: Conn, shop: str | None = None, *, only_open: bool = True, limit: int = 200
) -> list[Problem]:
    where, args = [], []
    if shop is not None:
        where.append("shop = ?")
        args.append(shop)
    if only_open:
        where.append("acked_at IS NULL")
    sql = "SELECT * FROM problems" + (" WHERE " + " AND ".join(where) if where else "")
    found = rows(conn, sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
    return [_problem(r) for r in found]


def count_problems(conn: Conn, shop: str, *, only_open: bool = True) -> int:
    """How many problems `list_problems` would list without its limit."""
    sql = "SELECT count(*) AS n FROM problems WHERE shop = ?"
    found = row(conn, sql + (" AND acked_at IS NULL" if only_open else ""), (shop,))
    return int(found["n"]) if found is not None else 0


def count_open(conn: Conn) -> dict[str, int]:
    """Open problems per shop."""
    found = rows(
        conn, "SELECT shop, count(*) AS n FROM problems WHERE acked_at IS NULL GROUP BY shop"
    )
    return {r["shop"]: int(r["n"]) for r in found}


def ack_problem(tx: Tx, problem_id: int, by: str, now: float, shop: str | None = None) -> bool:
    """Acknowledge an open problem (of `shop`, when given); False when there is none."""
    sql, args = (
        "UPDATE problems SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL",
        [
            now,
            by,
            problem_id,
        ],
    )
    if shop is not None:
        sql, args = sql + " AND shop = ?", [*args, shop]
    return bool(changed(tx, sql, args))
