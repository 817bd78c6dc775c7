"""Block list (all shops) and opt-outs (one shop, one address, one kind)."""

import sqlite3
import time
from dataclasses import dataclass

from relay.store.events import EventKind, add_event


@dataclass(frozen=True)
class Block:
    address: str
    created_at: float
    reason: str
    source: str
    note: str


@dataclass(frozen=True)
class OptOut:
    shop: str
    address: str
    kind: str
    created_at: float
    source: str


def find_block(conn: sqlite3.Connection, address: str) -> Block | None:
    row = conn.execute("SELECT * FROM blocks WHERE address = ?", (address.lower(),)).fetchone()
    return Block(**dict(row)) if row else None


def add_block(
    conn: sqlite3.Connection, address: str, reason: str, source: str, note: str = ""
) -> bool:
    """Block an address for every shop; False when it was blocked already (first reason wins)."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO blocks (address, created_at, reason, source, note)"
        " VALUES (?,?,?,?,?)",
        (address.lower(), time.time(), reason, source, note),
    )
    if cur.rowcount:
        add_event(conn, EventKind.BLOCKED, address=address.lower(), reason=reason, source=source)
    return bool(cur.rowcount)


def remove_block(conn: sqlite3.Connection, address: str, note: str = "") -> bool:
    cur = conn.execute("DELETE FROM blocks WHERE address = ?", (address.lower(),))
    if cur.rowcount:
        add_event(conn, EventKind.UNBLOCKED, address=address.lower(), note=note)
    return bool(cur.rowcount)


def list_blocks(conn: sqlite3.Connection) -> list[Block]:
    return [Block(**dict(r)) for r in conn.execute("SELECT * FROM blocks ORDER BY created_at")]


def find_optout(conn: sqlite3.Connection, shop: str, address: str, kind: str) -> OptOut | None:
    row = conn.execute(
        "SELECT * FROM optouts WHERE shop = ? AND address = ? AND kind = ?",
        (shop, address.lower(), kind),
    ).fetchone()
    return OptOut(**dict(row)) if row else None


def add_optout(conn: sqlite3.Connection, shop: str, address: str, kind: str, source: str) -> bool:
    cur = conn.execute(
        "INSERT OR IGNORE INTO optouts (shop, address, kind, created_at, source)"
        " VALUES (?,?,?,?,?)",
        (shop, address.lower(), kind, time.time(), source),
    )
    if cur.rowcount:
        add_event(
            conn, EventKind.OPTED_OUT, shop=shop, address=address.lower(), kind=kind, source=source
        )
    return bool(cur.rowcount)


def remove_optout(
    conn: sqlite3.Connection, shop: str, address: str, kind: str, reason: str
) -> bool:
    cur = conn.execute(
        "DELETE FROM optouts WHERE shop = ? AND address = ? AND kind = ?",
        (shop, address.lower(), kind),
    )
    if cur.rowcount:
        add_event(
            conn,
            EventKind.OPTOUT_REMOVED,
            shop=shop,
            address=address.lower(),
            kind=kind,
            reason=reason,
        )
    return bool(cur.rowcount)


def list_optouts(
    conn: sqlite3.Connection, shop: str | None = None, address: str | None = None
) -> list[OptOut]:
    sql, args = "SELECT * FROM optouts WHERE 1=1", []
    if shop:
        sql, args = sql + " AND shop = ?", [*args, shop]
    if address:
        sql, args = sql + " AND address = ?", [*args, address.lower()]
    return [OptOut(**dict(r)) for r in conn.execute(sql + " ORDER BY created_at", args)]
