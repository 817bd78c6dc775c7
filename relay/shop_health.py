"""Whether each shop sends under its own name, and the warnings every status view shows."""

from dataclasses import dataclass

from relay.model import Shop
from relay.store.events import identity_changes
from relay.store.shops import verdicts
from relay.store.sql import Conn


@dataclass(frozen=True)
class ShopHealth:
    shop: str
    verified_domains: list[str]
    warnings: list[str]
    identity_changes: list[dict]  # newest first: when a domain became (un)verified

    def as_dict(self) -> dict:
        return {
            "shop": self.shop,
            "verified_domains": self.verified_domains,
            "warnings": self.warnings,
            "identity_changes": self.identity_changes,
        }


def describe_change(change: dict) -> str:
    now = "verified: signed as the shop" if change["verified"] else "NOT verified: fallback"
    return f"{_when(change['at'])} {change['domain']} became {now}"


def shop_health(conn: Conn, shop: Shop) -> ShopHealth:
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
    return ShopHealth(shop.name, verified, warnings, identity_changes(conn, shop.name))


def _when(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
