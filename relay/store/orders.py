"""A shop's orders for the console: newest first, each order once (at its newest message),
searched by order number or customer address, paged by keyset (`after` the last row shown:
its time and message id), never by OFFSET, so the thousandth page costs what the first does.

A message without an order number is a row of its own, and so is a test (relay test-email, the
API's "test"): a test belongs to no order, whatever X-Relay-Order it carried, and is never in an
order's count or found by order number. Every statement is scoped by the shop;
the indexes are migration 10's `messages(shop, created_at, id, order_ref)` for the walk and
`messages(shop, order_ref, created_at, id)` for "is there a newer message of this order?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, marks, rows


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the newest message of its last order."""

    at: float
    message: str


@dataclass(frozen=True)
class OrderRow:
    order: str | None
    message: str  # the order's newest message
    kind: str
    subject: str
    created_at: float
    test: bool

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.created_at, self.message)


@dataclass(frozen=True)
class OrderSummary:
    messages: int
    states: dict[str, int]  # recipient state -> how many, over all of the order's messages


_COLUMNS = "m.id, m.order_ref, m.kind, m.subject, m.created_at, m.test"
# Row values compare as tuples in both engines (SQLite 3.15+, PostgreSQL).
_BEFORE = " AND (m.created_at, m.id) < (?, ?)"
_NEWEST_OF_ORDER = (
    " AND (m.test <> 0 OR NOT EXISTS (SELECT 1 FROM messages n WHERE n.shop = m.shop"
    " AND n.order_ref = m.order_ref AND n.test = 0"
    " AND (n.created_at, n.id) > (m.created_at, m.id){also}))"
)
_NO_TESTS = " AND m.test = 0"
_ORDER = " ORDER BY m.created_at DESC, m.id DESC LIMIT ?"
# Driven by the address (index recipients_address_lower, migration 11): a customer has few
# messages, a shop many. Both sides lowered by the engine: what is typed as stored always
# matches, and ASCII letters match in any case (SQLite's lower() changes only those).
_TO_ADDRESS = (
    " AND {alias}.id IN (SELECT r.message FROM recipients r WHERE lower(r.address) = lower(?))"
)


def _page(
    conn: Conn, where: str, args: list[Any], after: Cursor | None, limit: int
) -> list[OrderRow]:
    sql = f"SELECT {_COLUMNS} FROM messages m WHERE m.shop = ?{where}"
    if after is not None:
        sql, args = sql + _BEFORE, [*args, after.at, after.message]
    found = rows(conn, sql + _ORDER, [*args, limit])
    return [
        OrderRow(
            None if r["test"] else r["order_ref"],
            r["id"],
            r["kind"],
            r["subject"] or "",
            r["created_at"],
            bool(r["test"]),
        )
        for r in found
    ]


def recent_orders(
    conn: Conn, shop: str, after: Cursor | None = None, limit: int = 25
) -> list[OrderRow]:
    """The shop's orders, newest first."""
    return _page(conn, _NEWEST_OF_ORDER.format(also=""), [shop], after, limit)


def orders_to(
    conn: Conn, shop: str, address: str, after: Cursor | None = None, limit: int = 25
) -> list[OrderRow]:
    """Orders with mail to `address` (exact, case-insensitive), each at its newest such mail."""
    where = _TO_ADDRESS.format(alias="m") + _NEWEST_OF_ORDER.format(
        also=_TO_ADDRESS.format(alias="n")
    )
    wanted = address.strip()
    return _page(conn, where, [shop, wanted, wanted], after, limit)


def orders_like(
    conn: Conn, shop: str, prefix: str, after: Cursor | None = None, limit: int = 25
) -> list[OrderRow]:
    """Orders whose number starts with `prefix` (case-insensitive), newest first."""
    pattern = _escape_like(prefix.strip().lower()) + "%"
    where = (
        " AND lower(m.order_ref) LIKE ? ESCAPE '\\'" + _NO_TESTS + _NEWEST_OF_ORDER.format(also="")
    )
    return _page(conn, where, [shop, pattern], after, limit)


def order_summaries(conn: Conn, shop: str, orders: list[str]) -> dict[str, OrderSummary]:
    """How many messages each order has, and its recipients by state."""
    if not orders:
        return {}
    scope = f" WHERE m.shop = ? AND m.order_ref IN ({marks(len(orders))})" + _NO_TESTS
    args = [shop, *orders]
    counts = rows(
        conn,
        "SELECT m.order_ref, count(*) AS n FROM messages m" + scope + " GROUP BY m.order_ref",
        args,
    )
    states: dict[str, dict[str, int]] = {}
    for r in rows(
        conn,
        "SELECT m.order_ref, r.state, count(*) AS n FROM messages m"
        " JOIN recipients r ON r.message = m.id" + scope + " GROUP BY m.order_ref, r.state",
        args,
    ):
        states.setdefault(r["order_ref"], {})[r["state"]] = int(r["n"])
    return {
        r["order_ref"]: OrderSummary(int(r["n"]), states.get(r["order_ref"], {})) for r in counts
    }


def order_message_count(conn: Conn, shop: str, order: str) -> int:
    """How many messages the order has (tests are in no order): said where a list is cut."""
    found = rows(
        conn,
        "SELECT count(*) AS n FROM messages m WHERE m.shop = ? AND m.order_ref = ?" + _NO_TESTS,
        (shop, order),
    )
    return int(found[0]["n"])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
