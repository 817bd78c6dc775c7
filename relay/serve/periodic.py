"""The periodic jobs of `relay serve`, each run on one node at a time (relay.serve.singleton):
report recovery and retention (the DNS re-checks are relay.recheck.Rechecker.run)."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable

from relay.store.db import Read, Write
from relay.store.reports import unprocessed
from relay.store.retention import drop_old_bodies, drop_old_reports

log = logging.getLogger("relay")
RETENTION_MAX_PAUSE = 3600.0
REPORTS_EVERY = 30.0
# A report is stored, then processed by the listener that took it within a second or so; one
# still new after a minute was left by a process that stopped in between, or its processing
# failed (a write refused for a moment: a full disk, a locked database).
REPORT_GRACE = 60.0


async def recover_reports(
    read: Read,
    process: Callable[[int], Awaitable[object]],
    every: float = REPORTS_EVERY,
    grace: float = REPORT_GRACE,
) -> None:
    """Process reports stored but never processed, while the relay runs (the node that took
    them stopped, or processing them failed once)."""
    while True:
        for report_id in unprocessed(read(), before=time.time() - grace):
            try:
                await process(report_id)
            except Exception:
                log.exception("report %d: recovery failed; trying again later", report_id)
        await asyncio.sleep(every)


async def enforce_retention(write: Write, retention: float) -> None:
    """Drop bodies and the raw bytes of processed reports older than `retention` (0: keep
    them all), in small transactions; a pass every quarter of the period, at most an hour
    apart."""
    if retention <= 0:
        return
    pause = min(RETENTION_MAX_PAUSE, max(1.0, retention / 4))
    while True:
        before = time.time() - retention
        moment = datetime.datetime.fromtimestamp(before, datetime.UTC).isoformat("T", "seconds")
        for drop, what in ((drop_old_bodies, "the bodies of %d messages accepted"),
                           (drop_old_reports, "the raw bytes of %d reports received")):  # fmt: skip
            dropped = 0
            while batch := await write(lambda tx, drop=drop, before=before: drop(tx, before)):
                dropped += batch
            if dropped:
                log.info(f"retention: dropped {what} before %s", dropped, moment)
        await asyncio.sleep(pause)
