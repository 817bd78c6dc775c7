"""Block list (all shops), opt-outs (one shop, one address, one kind), and the table behind
the List-Unsubscribe mailto tokens."""

import time
from typing import Any

from relay.model import Block, EventKind, OptOut
from relay.store.events import add_event
from relay.store.sql import Conn, Tx, changed, row, rows


def find_block(conn: Conn, address: str) -> Block | None:
    found = row(conn, "SELECT * FROM blocks WHERE address = ?", (address.lower(),))
    return Block(**dict(found)) if found else None


def add_block(tx: Tx, address: str, reason: str, source: str, note: str = "") -> bool:
    """Block an address for every shop; False when it was blocked already (first reason wins)."""
    added = changed(
        tx,
        "INSERT INTO blocks (address, created_at, reason, source, note) VALUES (?,?,?,?,?)"
        " ON CONFLICT (address) DO NOTHING",
        (address.lower(), time.time(), reason, source, note),
    )
    if added:
        add_event(tx, EventKind.BLOCKED, address=address.lower(), reason=reason, source=source)
    return bool(added)


def remove_block(tx: Tx, address: str, note: str = "") -> bool:
    removed = changed(tx, "DELETE FROM blocks WHERE address = ?", (address.lower(),))
    if removed:
        add_event(tx, EventKind.UNBLOCKED, address=address.lower(), note=note)
    return bool(removed)


def list_blocks(conn: Conn) -> list[Block]:
    return [Block(**dict(r)) for r in rows(conn, "SELECT * FROM blocks ORDER BY created_at")]


def find_optout(conn: Conn, shop: str, address: str, kind: str) -> OptOut | None:
    found = row(
        conn,
        "SELECT * FROM optouts WHERE shop = ? AND address = ? AND kind = ?",
        (shop, address.lower(), kind),
    )
    return OptOut(**dict(found)) if found else None


def add_optout(tx: Tx, shop: str, address: str, kind: str, source: str) -> bool:
    added = changed(
        tx,
        "INSERT INTO optouts (shop, address, kind, created_at, source) VALUES (?,?,?,?,?)"
        " ON CONFLICT (shop, address, kind) DO NOTHING",
        (shop, address.lower(), kind, time.time(), source),
    )
    if added:
        add_event(
            tx, EventKind.OPTED_OUT, shop=shop, address=address.lower(), kind=kind, source=source
        )
    return bool(added)


def remove_optout(tx: Tx, shop: str, address: str, kind: str, reason: str) -> bool:
    removed = changed(
        tx,
        "DELETE FROM optouts WHERE shop = ? AND address = ? AND kind = ?",
        (shop, address.lower(), kind),
    )
    if removed:
        add_event(
            tx,
            EventKind.OPTOUT_REMOVED,
            shop=shop,
            address=address.lower(),
            kind=kind,
            reason=reason,
        )
    return bool(removed)


def list_optouts(conn: Conn, shop: str | None = None, address: str | None = None) -> list[OptOut]:
    sql, args = "SELECT * FROM optouts WHERE 1=1", []
    if shop:
        sql, args = sql + " AND shop = ?", [*args, shop]
    if address:
        sql, args = sql + " AND address = ?", [*args, address.lower()]
    return [OptOut(**dict(r)) for r in rows(conn, sql + " ORDER BY created_at", args)]


def mailto_target(conn: Conn, token: str) -> tuple[str, str, str] | None:
    """(shop, address, kind) behind a List-Unsubscribe mailto token we issued, or None."""
    found: Any = row(
        conn, "SELECT shop, address, kind FROM unsubscribe_mailto WHERE token = ?", (token,)
    )
    return (found["shop"], found["address"], found["kind"]) if found else None


def blocks_seen_by(
    conn: Conn,
    shop: str,
    address: str | None = None,
    limit: int = 1000,
    before: tuple[float, str] | None = None,
) -> list[Block]:
    """Blocks of addresses this shop has sent to: the block list is one for all shops, and
    a shop may learn why its own customers' mail is stopped, never who else is blocked.
    Blocks are stored lower-case, recipients as written: each block is looked up in the index
    recipients_address_lower (migration 11), and its few messages checked for the shop (not
    every message of the shop read for every block)."""
    sql = (
        "SELECT b.* FROM blocks b WHERE EXISTS (SELECT 1 FROM recipients r"
        " WHERE lower(r.address) = lower(b.address)"  # expressions alike: the index applies
        " AND EXISTS (SELECT 1 FROM messages m WHERE m.id = r.message AND m.shop = ?))"
    )
    args: list[Any] = [shop]
    if address:
        sql, args = sql + " AND b.address = ?", [*args, address.lower()]
    if before is not None:  # keyset: the rows after the last one of the page before
        sql, args = sql + " AND (b.created_at, b.address) < (?, ?)", [*args, *before]
    sql += " ORDER BY b.created_at DESC, b.address DESC LIMIT ?"  # newest first
    return [Block(**dict(r)) for r in rows(conn, sql, (*args, limit))]


def optouts_newest_first(
    conn: Conn,
    shop: str,
    address: str | None = None,
    limit: int = 1000,
    before: tuple[float, str, str] | None = None,
) -> list[OptOut]:
    """A shop's opt-outs, newest first, in keyset pages (index optouts_shop_created)."""
    sql, args = "SELECT * FROM optouts WHERE shop = ?", [shop]
    if address:
        sql, args = sql + " AND address = ?", [*args, address.lower()]
    if before is not None:
        sql, args = sql + " AND (created_at, address, kind) < (?, ?, ?)", [*args, *before]
    sql += " ORDER BY created_at DESC, address DESC, kind DESC LIMIT ?"
    return [OptOut(**dict(r)) for r in rows(conn, sql, (*args, limit))]
