"""`relay serve` re-checks every shop's DNS and the relay's own records every
`dns.recheck_every` (in a thread: the DNS checks block), and stores the results through the
writer: shops' verdicts switch signing and the return path, the relay's result is what
`relay status` warns about (issue 13 item 11). `run` is a periodic job of one node at a time
(relay.serve.singleton); `start`/`stop` run it on its own."""

import asyncio
import contextlib
import logging
import time
from typing import Any

from config import Config
from dns_checks import Resolver, check_relay, to_json
from relay.dns import check_resolver, relay_setup
from relay.identity_check import check_shop, store_verdicts
from relay.model import Verdict
from relay.runtime import fallback_key_path
from relay.store.db import Read, Write
from relay.store.dns_results import relay_dns, save_relay_dns
from relay.store.shops import list_shops, verdicts

log = logging.getLogger(__name__)
_SCAN_EVERY = 60.0
_STALE_RETRY = 300.0  # a verdict kept through DNS trouble is checked again after 5 min
_AFTER_ERROR = 10.0  # a failed pass (a bug, a store error) is tried again soon, not in a minute


class Rechecker:
    def __init__(self, config: Config, read: Read, write: Write) -> None:
        self.config, self.read, self.write = config, read, write
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="dns-recheck")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        every = self.config.dns.recheck_every
        while True:
            pause = min(every, _SCAN_EVERY)
            try:
                await self.recheck_due(every)
            except Exception:  # a DNS or store hiccup must not end the loop
                log.exception("DNS re-check failed; trying again in %.0f s", _AFTER_ERROR)
                pause = min(pause, _AFTER_ERROR)
            await asyncio.sleep(pause)

    async def recheck_due(self, every: float) -> None:
        resolver = check_resolver(self.config)  # a fresh cache per pass (relay/dns.py)
        try:
            await self.recheck_relay(resolver, every)
        except Exception:  # the shops' checks (which switch signing) must still run
            log.exception("the check of the relay's own DNS records failed")
        for shop in list_shops(self.read()):
            known = verdicts(self.read(), shop.name)
            due = any(_due(known.get(d), every) for d in shop.domains)
            if not due:
                continue
            reports = await asyncio.to_thread(check_shop, shop, self.config, resolver)
            changes = await self.write(lambda tx, s=shop, r=reports: store_verdicts(tx, s, r))
            for change in changes:
                if change.changed:
                    state = "verified" if change.verified else "NOT verified"
                    log.info("shop %s: %s is now %s", change.shop, change.domain, state)

    async def recheck_relay(self, resolver: Resolver, every: float) -> None:
        """The relay's own records, when never checked, `every` ago, or seen through DNS
        trouble more than a few minutes ago."""
        stored = relay_dns(self.read())
        if stored is not None:
            trouble = bool(stored.report.get("dns_trouble"))
            wait = min(every, _STALE_RETRY) if trouble else every
            if time.time() - stored.checked_at < wait:
                return
        report = await asyncio.to_thread(check_relay_dns, self.config, resolver)
        await self.write(lambda tx: save_relay_dns(tx, report, time.time()))
        if not report["verified"]:
            log.warning("the relay's own DNS records need work: see `relay status`")


def check_relay_dns(config: Config, resolver: Resolver) -> dict[str, Any]:
    """The relay's own records checked (blocking DNS work), as the JSON that is stored and
    shown. Raises ValueError when the fallback key file is missing (`relay init` makes it)."""
    key = fallback_key_path(config.data_dir)
    if not key.exists():
        raise ValueError(f"{key} is missing: run `relay init`")
    return to_json(check_relay(relay_setup(config, key.read_text()), resolver))


def _due(verdict: Verdict | None, every: float) -> bool:
    """Never checked, checked `every` ago, or last seen through DNS trouble (stale): a new
    shop must not wait `every` (hours) on the fallback because of one failed check."""
    if verdict is None:
        return True
    age = time.time() - verdict.checked_at
    return age >= (min(every, _STALE_RETRY) if verdict.stale_since is not None else every)
