"""Shops: identity, credentials (hashed), DKIM key, kinds, stored DNS verdicts."""

import json
import sqlite3
import time
from dataclasses import dataclass, field

from dns_checks import InvalidDomain, to_ascii_domain
from relay.kinds import Kind, shop_kinds


def ascii_domain(domain: str) -> str:
    """The A-label form shops are stored under (a From may be written with U-labels)."""
    try:
        return to_ascii_domain(domain)
    except InvalidDomain:
        return domain.strip().rstrip(".").lower()


@dataclass(frozen=True)
class Shop:
    name: str
    domains: tuple[str, ...]
    sender: str
    sender_name: str
    language: str
    password_hash: str
    dkim_selector: str
    dkim_private_key: str
    kinds_disabled: frozenset[str] = frozenset()
    custom_kinds: dict[str, bool] = field(default_factory=dict)
    created_at: float = 0.0

    @property
    def kinds(self) -> dict[str, Kind]:
        return shop_kinds(self.custom_kinds)

    def owns_address(self, address: str) -> bool:
        """SPEC: the From address is the shop's sender address or at one of its domains."""
        address = address.lower()
        domain = ascii_domain(address.rpartition("@")[2])
        return address == self.sender.lower() or domain in self.domains


def _row_to_shop(row: sqlite3.Row) -> Shop:
    return Shop(
        name=row["name"],
        domains=tuple(json.loads(row["domains"])),
        sender=row["sender"],
        sender_name=row["sender_name"],
        language=row["language"],
        password_hash=row["password_hash"],
        dkim_selector=row["dkim_selector"],
        dkim_private_key=row["dkim_private_key"],
        kinds_disabled=frozenset(json.loads(row["kinds_disabled"])),
        custom_kinds=json.loads(row["custom_kinds"]),
        created_at=row["created_at"],
    )


def insert_shop(conn: sqlite3.Connection, shop: Shop) -> None:
    conn.execute(
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


def get_shop(conn: sqlite3.Connection, name: str) -> Shop | None:
    row = conn.execute("SELECT * FROM shops WHERE name = ?", (name,)).fetchone()
    return _row_to_shop(row) if row else None


def list_shops(conn: sqlite3.Connection) -> list[Shop]:
    return [_row_to_shop(r) for r in conn.execute("SELECT * FROM shops ORDER BY name")]


def set_kinds(
    conn: sqlite3.Connection, name: str, disabled: frozenset[str], custom: dict[str, bool]
) -> None:
    conn.execute(
        "UPDATE shops SET kinds_disabled = ?, custom_kinds = ? WHERE name = ?",
        (json.dumps(sorted(disabled)), json.dumps(custom), name),
    )


@dataclass(frozen=True)
class Verdict:
    domain: str
    verified: bool
    checked_at: float
    stale_since: float | None
    report: dict


def verdicts(conn: sqlite3.Connection, shop: str) -> dict[str, Verdict]:
    rows = conn.execute("SELECT * FROM dns_verdicts WHERE shop = ?", (shop,))
    return {
        r["domain"]: Verdict(
            r["domain"],
            bool(r["verified"]),
            r["checked_at"],
            r["stale_since"],
            json.loads(r["report"]),
        )
        for r in rows
    }


def verified_domains(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """shop -> its verified domains; the submission path reads this, never DNS."""
    out: dict[str, set[str]] = {}
    for row in conn.execute("SELECT shop, domain FROM dns_verdicts WHERE verified = 1"):
        out.setdefault(row["shop"], set()).add(row["domain"])
    return out
