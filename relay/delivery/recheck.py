"""Before a retry: is the recipient still to be sent to? SPEC "Suppression": later mail to a
blocked (complained, dead) address is suppressed, and so is an optional kind the customer
opted out of. Submission decided that when the message was queued (relay.prepare.recipients);
a block or an opt-out that came while the message waited for a retry counts as well."""

from relay.prepare.recipients import day_of
from relay.store.shops import get_shop
from relay.store.sql import Conn
from relay.store.suppression import find_block, find_optout

_MEANWHILE = "while the message waited for a retry"


def why_not_send(conn: Conn, row: dict) -> tuple[str, str] | None:
    """(reason, detail) when the claimed row must be suppressed now, else None."""
    block = find_block(conn, row["address"])
    if block is not None:
        since = day_of(block.created_at)
        return "blocked", f"address blocked on {since} ({block.reason}), {_MEANWHILE}"
    shop = get_shop(conn, row["shop"]) if row.get("shop") else None
    kind = shop.kinds.get(row.get("kind") or "") if shop else None
    if kind is None or not kind.optional:
        return None
    optout = find_optout(conn, row["shop"], row["address"], kind.name)
    if optout is None:
        return None
    since = day_of(optout.created_at)
    return "opted-out", f"customer opted out of {kind.label_en} on {since}, {_MEANWHILE}"
