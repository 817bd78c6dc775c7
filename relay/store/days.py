"""Per shop and day counters of outcomes, for the rates of `relay status` (relay.stats).

Counted in the transaction of each event (relay.store.outcomes), so reading 30 days of a shop
is 30 rows, however much mail it sent; migration 5 filled them from the event log.
"""

from __future__ import annotations

from typing import Any

from relay.store.sql import Conn, Tx, execute, rows

DAY = 86400
# Event kind (relay.model.EventKind value) -> its column.
COLUMNS = {
    "delivered": "delivered",
    "deferred": "deferred",
    "bounced": "bounced",
    "failed": "failed",
    "suppressed": "suppressed",
    "complained": "complained",
    "opted-out": "opted_out",
}
_COUNT = {
    column: (
        f"INSERT INTO shop_days (shop, day, {column}) VALUES (?, ?, 1) ON CONFLICT (shop, day)"
        f" DO UPDATE SET {column} = shop_days.{column} + 1"
    )
    for column in COLUMNS.values()
}


def day_of(at: float) -> int:
    """Days since 1970-01-01 in UTC."""
    return int(at // DAY)


def count(tx: Tx, shop: str, kind: str, at: float) -> None:
    column = COLUMNS.get(kind)
    if column is not None:
        execute(tx, _COUNT[column], (shop, day_of(at)))


def days(conn: Conn, first_day: int, shop: str | None = None) -> list[dict[str, Any]]:
    """Rows from `first_day` on: shop, day and a count per column."""
    sql, args = "SELECT * FROM shop_days WHERE day >= ?", [first_day]
    if shop is not None:
        sql, args = sql + " AND shop = ?", [*args, shop]
    return [dict(r) for r in rows(conn, sql + " ORDER BY shop, day", args)]
