"""Whether each shop sends under its own name, and the warnings every status view shows."""

import sqlite3
from dataclasses import dataclass

from relay.store.shops import Shop, verdicts


@dataclass(frozen=True)
class ShopHealth:
    shop: str
    verified_domains: list[str]
    warnings: list[str]

    def as_dict(self) -> dict:
        return {
            "shop": self.shop,
            "verified_domains": self.verified_domains,
            "warnings": self.warnings,
        }


def shop_health(conn: sqlite3.Connection, shop: Shop) -> ShopHealth:
    stored = verdicts(conn, shop.name)
    verified = sorted(d for d, v in stored.items() if v.verified)
    warnings = []
    for domain in shop.domains:
        verdict = stored.get(domain)
        if verdict is None or not verdict.verified:
            warnings.append(
                f"{domain} is not verified: mail goes out from the relay's fallback address "
                f"with your address in Reply-To; publish the records of `relay dns show "
                f"{shop.name}`, then run `relay dns check {shop.name}`"
            )
        if verdict is not None and verdict.stale_since:
            warnings.append(
                f"{domain}: DNS could not be checked since {_when(verdict.stale_since)}; "
                "keeping the last good verdict"
            )
    return ShopHealth(shop.name, verified, warnings)


def _when(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
