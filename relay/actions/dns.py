"""A shop's DNS set-up: the records to publish (`relay dns show SHOP`, the console's DNS page)
and "check now" (`relay dns check SHOP`, the console's button): the check stores the verdict
that switches signing as the shop on or off (relay.identity_check, which the re-checker of
`relay serve` runs too).

The console's lookups run in a small pool of their own (`DNS_POOL`), never in the event loop's
default executor: that one also checks SMTP AUTH and console passwords, hashes large bodies
and parses bounce reports, and a shop controls its own DNS (name servers that never answer
hold a thread for CHECK_TIMEOUT a lookup). `ShopDns` runs at most one lookup of a kind per
shop at a time: a second request shares the first one's result, and the records to publish
are kept a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

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

T = TypeVar("T")
# Shared by every shop: a few slow shops make each other's DNS pages wait, nobody else's work.
DNS_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="relay-dns")
RECORDS_FRESH = 60.0  # seconds the records to publish are shown without asking DNS again


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
    loop = asyncio.get_running_loop()
    resolver = check_resolver(config)
    reports = await loop.run_in_executor(DNS_POOL, check_shop, shop, config, resolver)
    changes = await write(lambda tx: store_verdicts(tx, shop, reports))
    return [CheckOutcome(r, c) for r, c in zip(reports, changes, strict=True)]


class _Shared(Generic[T]):
    """At most one run per key at a time: a caller that comes while a run is going waits for
    it and gets its result; a finished run's result is kept `fresh` seconds (a failed one is
    not kept). Bound to the event loop it is first used on (one per relay's HTTP worker)."""

    def __init__(self, fresh: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.fresh, self.clock = fresh, clock
        self._runs: dict[Hashable, tuple[asyncio.Future[T], list[float]]] = {}

    async def get(self, key: Hashable, run: Callable[[], Awaitable[T]]) -> T:
        now = self.clock()
        self._forget_stale(now)
        if key not in self._runs:
            task = asyncio.ensure_future(run())
            done_at: list[float] = []
            task.add_done_callback(lambda t: self._finished(key, t, done_at))
            self._runs[key] = (task, done_at)
        # shield: a caller that goes away (a closed browser tab) does not cancel the others'.
        return await asyncio.shield(self._runs[key][0])

    def forget(self, key: Hashable) -> None:
        run = self._runs.get(key)
        if run is not None and run[0].done():
            del self._runs[key]

    def _finished(self, key: Hashable, task: asyncio.Future[T], done_at: list[float]) -> None:
        if task.cancelled() or task.exception() is not None:
            if self._runs.get(key, (None,))[0] is task:
                del self._runs[key]
        else:
            done_at.append(self.clock())

    def _forget_stale(self, now: float) -> None:
        for key, (_, done_at) in list(self._runs.items()):
            if done_at and now - done_at[0] >= self.fresh:
                del self._runs[key]


class ShopDns:
    """The console's DNS work for one relay: the records page and "check now", one run per
    shop at a time, in DNS_POOL."""

    def __init__(self, config: Config, read: Read, write: Write) -> None:
        self.config, self.read, self.write = config, read, write
        self._records: _Shared[list[DomainRecords]] = _Shared(RECORDS_FRESH)
        self._checks: _Shared[list[CheckOutcome]] = _Shared(0.0)  # "now" means now

    async def records(self, shop: Shop) -> list[DomainRecords]:
        """As publish_records; raises SetupError when no resolver can be made."""

        async def run() -> list[DomainRecords]:
            resolver = check_resolver(self.config)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                DNS_POOL, publish_records, shop, self.config, resolver
            )

        return await self._records.get(_records_key(shop), run)

    async def check(self, shop: Shop) -> list[CheckOutcome]:
        """As check_now; the next view of the records asks DNS again."""
        outcome = await self._checks.get(
            shop.name, lambda: check_now(self.config, self.read, self.write, shop.name)
        )
        self._records.forget(_records_key(shop))
        return outcome


def _records_key(shop: Shop) -> Hashable:
    # What the records are made of: a changed domain list or key is never served stale.
    return (shop.name, shop.domains, shop.dkim_selector, shop.dkim_private_key)
