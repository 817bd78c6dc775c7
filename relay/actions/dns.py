"""A shop's DNS set-up: the records to publish (`relay dns show SHOP`, the console's DNS page)
and "check now" (`relay dns check SHOP`, the console's button): the check stores the verdict
that switches signing as the shop on or off (relay.identity_check, which the re-checker of
`relay serve` runs too)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from config import Config
from dns_checks import (
    DnsError,
    DnsRecord,
    DomainReport,
    Resolver,
    records_to_publish,
    shop_spf_note,
)
from relay.dns import check_resolver, relay_setup
from relay.identity_check import VerdictChange, check_shop, store_verdicts
from relay.keys import public_key_b64
from relay.model import Shop
from relay.store.db import Read, Write
from relay.store.shops import get_shop


@dataclass(frozen=True)
class DomainRecords:
    domain: str
    records: list[DnsRecord]  # empty: a public mailbox domain (nothing can be published)
    note: str
    error: str | None = None  # DNS could not be asked; the records may be incomplete


def publish_records(shop: Shop, config: Config, resolver: Resolver) -> list[DomainRecords]:
    """Blocking DNS lookups (the shop's DMARC record): run it in a thread from an event loop."""
    public = public_key_b64(shop.dkim_private_key)
    setup = relay_setup(config)
    out = []
    for domain in shop.domains:
        try:
            records = records_to_publish(domain, shop.dkim_selector, public, setup, resolver)
        except DnsError as exc:
            out.append(DomainRecords(domain, [], "", f"DNS lookup for {domain} failed: {exc}"))
            continue
        out.append(DomainRecords(domain, records, shop_spf_note(domain) if records else ""))
    return out


@dataclass(frozen=True)
class CheckOutcome:
    report: DomainReport
    change: VerdictChange


async def check_now(config: Config, read: Read, write: Write, shop_name: str) -> list[CheckOutcome]:
    """Check every domain of the shop now and store the verdicts (as `relay dns check`)."""
    shop = get_shop(read(), shop_name)
    if shop is None:
        return []
    reports = await asyncio.to_thread(check_shop, shop, config, check_resolver(config))
    changes = await write(lambda tx: store_verdicts(tx, shop, reports))
    return [CheckOutcome(r, c) for r, c in zip(reports, changes, strict=True)]
