"""Shops (identity, hashed credentials, DKIM key, kinds) and their stored DNS verdicts.

Every change to a shop or a verdict bumps `meta.shops_version` in the same transaction, so the
submission path can cache both and still see `relay shop kinds`, `relay shop set` or `relay dns
check` on the next message (relay.submit.ShopCache).

A removed shop keeps its row (its messages refer to it until retention drops them) with
`removed_at` set, an unusable password hash and no DKIM key; `get_shop` and `list_shops` no
longer see it, so its credentials fail at the next AUTH and its open sessions at the next DATA.
"""

import json
import time
from typing import Any

from relay.model import EventKind, Shop, Verdict
from relay.store.events import add_event
from relay.store.outbox import drop_pending
from relay.store.sql import Conn, Tx, execute, marks, row, rows, value
from relay.store.sql import changed as changed_rows


def _row_to_shop(found: Any) -> Shop:
    return Shop(
        name=found["name"],
        domains=tuple(json.loads(found["domains"])),
        sender=found["sender"],
        sender_name=found["sender_name"],
        language=found["language"],
        password_hash=found["password_hash"],
        dkim_selector=found["dkim_selector"],
        dkim_private_key=found["dkim_private_key"],
        kinds_disabled=frozenset(json.loads(found["kinds_disabled"])),
        custom_kinds=json.loads(found["custom_kinds"]),
        created_at=found["created_at"],
    )


def shops_version(conn: Conn) -> int:
    """A number that changes whenever a shop or a DNS verdict changes."""
    return int(value(conn, "SELECT value FROM meta WHERE key = 'shops_version'"))


def bump_shops_version(tx: Tx) -> None:
    """Tell every cache of shops (relay.submit.ShopCache) to read them again."""
    execute(tx, "UPDATE meta SET value = value + 1 WHERE key = 'shops_version'")


_bump_version = bump_shops_version
REMOVED_PASSWORD = "!removed"  # matches no password: relay.passwords reads only scrypt hashes


def insert_shop(tx: Tx, shop: Shop) -> None:
    execute(
        tx,
        "INSERT INTO shops (name, domains, sender, sender_name, language, password_hash,"
        " dkim_selector, dkim_private_key, kinds_disabled, custom_kinds, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            shop.name,
            json.dumps(list(shop.domains)),
            shop.sender,
            shop.sender_name,
            shop.language,
            shop.password_hash,
            shop.dkim_selector,
            shop.dkim_private_key,
            json.dumps(sorted(shop.kinds_disabled)),
            json.dumps(shop.custom_kinds),
            shop.created_at or time.time(),
        ),
    )
    _bump_version(tx)


def get_shop(conn: Conn, name: str) -> Shop | None:
    """The shop, or None when there is none by that name or it was removed."""
    found = row(conn, "SELECT * FROM shops WHERE name = ? AND removed_at IS NULL", (name,))
    return _row_to_shop(found) if found else None


def list_shops(conn: Conn) -> list[Shop]:
    found = rows(conn, "SELECT * FROM shops WHERE removed_at IS NULL ORDER BY name")
    return [_row_to_shop(r) for r in found]


def name_taken(conn: Conn, name: str) -> bool:
    """Whether a shop has this name, or had it and was removed (its history keeps it)."""
    return row(conn, "SELECT 1 FROM shops WHERE name = ?", (name,)) is not None


def update_shop(tx: Tx, shop: Shop, changed: tuple[str, ...], now: float) -> bool:
    """Store the identity and credentials of `shop` (by name); `changed` names the fields for
    the event (never their values: a password hash stays out of the log). False when the shop
    is gone."""
    done = changed_rows(
        tx,
        "UPDATE shops SET domains = ?, sender = ?, sender_name = ?, language = ?,"
        " password_hash = ? WHERE name = ? AND removed_at IS NULL",
        (
            json.dumps(list(shop.domains)),
            shop.sender,
            shop.sender_name,
            shop.language,
            shop.password_hash,
            shop.name,
        ),
    )
    if not done:
        return False
    execute(
        tx,
        f"DELETE FROM dns_verdicts WHERE shop = ? AND domain NOT IN ({marks(len(shop.domains))})",
        (shop.name, *shop.domains),
    )
    add_event(tx, EventKind.SHOP_CHANGED, shop=shop.name, at=now, fields=list(changed))
    _bump_version(tx)
    return True


def remove_shop(tx: Tx, name: str, now: float) -> bool:
    """Mark the shop removed: credentials and DKIM key gone, design, templates, DNS verdicts
    and the webhook endpoint deleted (events waiting for it are dropped: late outcomes of its
    mail are told nobody), history kept. False when there was no such shop."""
    done = changed_rows(
        tx,
        "UPDATE shops SET removed_at = ?, password_hash = ?, dkim_private_key = ''"
        " WHERE name = ? AND removed_at IS NULL",
        (now, REMOVED_PASSWORD, name),
    )
    if not done:
        return False
    for table in ("dns_verdicts", "shop_designs", "shop_templates", "webhook_endpoints"):
        execute(tx, f"DELETE FROM {table} WHERE shop = ?", (name,))
    drop_pending(tx, name, "the shop was removed", now)
    add_event(tx, EventKind.SHOP_REMOVED, shop=name, at=now)
    _bump_version(tx)
    return True


def set_kinds(tx: Tx, name: str, disabled: frozenset[str], custom: dict[str, bool]) -> None:
    execute(
        tx,
        "UPDATE shops SET kinds_disabled = ?, custom_kinds = ? WHERE name = ?",
        (json.dumps(sorted(disabled)), json.dumps(custom), name),
    )
    _bump_version(tx)


def verdicts(conn: Conn, shop: str) -> dict[str, Verdict]:
    found = rows(conn, "SELECT * FROM dns_verdicts WHERE shop = ?", (shop,))
    return {
        r["domain"]: Verdict(
            r["domain"],
            bool(r["verified"]),
            r["checked_at"],
            r["stale_since"],
            json.loads(r["report"]),
        )
        for r in found
    }


def verified_domains(conn: Conn) -> dict[str, set[str]]:
    """shop -> its verified domains; the submission path reads this, never DNS."""
    out: dict[str, set[str]] = {}
    for found in rows(conn, "SELECT shop, domain FROM dns_verdicts WHERE verified = 1"):
        out.setdefault(found["shop"], set()).add(found["domain"])
    return out


def save_verdict(
    tx: Tx, shop: str, domain: str, verified: bool, report: dict, was: bool, now: float
) -> None:
    """Store a conclusive check (no longer stale); a change of `verified` is an event."""
    execute(
        tx,
        "INSERT INTO dns_verdicts (shop, domain, verified, checked_at, stale_since, report)"
        " VALUES (?,?,?,?,NULL,?) ON CONFLICT (shop, domain) DO UPDATE SET"
        " verified = excluded.verified, checked_at = excluded.checked_at,"
        " stale_since = NULL, report = excluded.report",
        (shop, domain, int(verified), now, json.dumps(report)),
    )
    if verified != was:
        add_event(
            tx, EventKind.IDENTITY, shop=shop, at=now, domain=domain, verified=verified, was=was
        )
    _bump_version(tx)


def mark_verdict_stale(tx: Tx, shop: str, domain: str, known: bool, now: float) -> None:
    """DNS could not answer: keep the last verdict, stale since the first failed check (a
    domain never checked before gets an unverified, stale one)."""
    if known:
        execute(
            tx,
            "UPDATE dns_verdicts SET stale_since = coalesce(stale_since, ?)"
            " WHERE shop = ? AND domain = ?",
            (now, shop, domain),
        )
    else:
        execute(
            tx,
            "INSERT INTO dns_verdicts (shop, domain, verified, checked_at, stale_since)"
            " VALUES (?,?,0,?,?)",
            (shop, domain, now, now),
        )
    _bump_version(tx)
