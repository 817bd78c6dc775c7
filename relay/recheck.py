"""`relay serve` re-checks every shop's DNS every `dns.recheck_every` (in a thread: the DNS
checks block), and stores verdicts through the writer. `run` is a periodic job of one node at
a time (relay.serve.singleton); `start`/`stop` run it on its own."""

import asyncio
import contextlib
import logging
import time

from config import Config
from relay.dns import check_resolver
from relay.identity_check import check_shop, store_verdicts
from relay.model import Verdict
from relay.store.db import Read, Write
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


def _due(verdict: Verdict | None, every: float) -> bool:
    """Never checked, checked `every` ago, or last seen through DNS trouble (stale): a new
    shop must not wait `every` (hours) on the fallback because of one failed check."""
    if verdict is None:
        return True
    age = time.time() - verdict.checked_at
    return age >= (min(every, _STALE_RETRY) if verdict.stale_since is not None else every)
