"""Undoing an opt-out from the customer's own re-subscribe link (SPEC "Opt-out": valid for 30
days, recorded like the opt-out). The link names the opt-out by its time, so it undoes that one
opt-out and never a later one the customer made again."""

from __future__ import annotations

from relay.model import EventKind, OptOut
from relay.store.events import add_event
from relay.store.sql import Conn, Tx, changed, row

# Times are REAL/DOUBLE PRECISION: the token carries the stored value exactly (repr of a float),
# the tolerance only guards against an engine that rounds the last bit.
_SAME_TIME = 1e-6


def find_optout_made(conn: Conn, shop: str, address: str, kind: str, at: float) -> OptOut | None:
    """The opt-out made at `at`, if it is still there."""
    found = row(
        conn,
        "SELECT * FROM optouts WHERE shop = ? AND address = ? AND kind = ?"
        " AND abs(created_at - ?) < ?",
        (shop, address.lower(), kind, at, _SAME_TIME),
    )
    return OptOut(**dict(found)) if found else None


def undo_optout(tx: Tx, shop: str, address: str, kind: str, at: float, now: float) -> bool:
    """Remove the opt-out made at `at` and record who undid it; False when it is gone already
    (undone before, removed by an admin, or replaced by a newer one)."""
    removed = changed(
        tx,
        "DELETE FROM optouts WHERE shop = ? AND address = ? AND kind = ?"
        " AND abs(created_at - ?) < ?",
        (shop, address.lower(), kind, at, _SAME_TIME),
    )
    if removed:
        add_event(
            tx,
            EventKind.RESUBSCRIBED,
            shop=shop,
            at=now,
            address=address.lower(),
            kind=kind,
            source="link",
            opted_out_at=at,
        )
    return bool(removed)
