"""The bounce listener (port 25): reports in, never a bounce out.

RCPT is accepted only for bounce addresses whose signature verifies (at the relay's bounce
domain, or at the custom return path their message was sent with), the List-Unsubscribe
mailto addresses we issued, and the complaint (feedback loop) address; anything else is
550 5.1.1. No AUTH, no relaying. The raw report is stored before the 250, then processed.
"""

import asyncio
import logging
from dataclasses import dataclass

from bounces.verp import token_of
from relay import logs
from relay.inbound import reports
from relay.inbound.matching import bounce_recipient
from relay.inbound.parsing import ReportParser
from relay.inbound.quota import UnmatchedQuota
from relay.smtp import replies
from relay.smtp.protocol import NoAuthHandler
from relay.store.db import Read, Write
from relay.store.reports import load_raw, store_raw
from relay.store.suppression import mailto_target

log = logging.getLogger(__name__)

# A report concerns one message; RFC 5321 4.5.3.1.8 asks for 100 recipients at least and lets
# a server answer 452 past its limit (4.5.3.1.10). Without a cap a sender could name hundreds
# of thousands of (public) complaint addresses, all held in memory and stored with the report.
MAX_RECIPIENTS = 100
# Reports are parsed one at a time (a child process), and a stored report can be 10 MB: only
# this many are read into memory at once; the others wait as ids. Past MAX_WAITING a report
# is left stored for the periodic sweep (relay.serve.periodic), so a flood of large reports
# costs disk, not a worker's memory.
LOADED_AT_ONCE = 2
MAX_WAITING = 200


@dataclass
class InboundDeps:
    read: Read
    write: Write
    secret: bytes
    bounce_domain: str
    complaint_address: str


class InboundHandler(NoAuthHandler):
    def __init__(self, deps: InboundDeps) -> None:
        self.deps = deps
        self._tasks: set[asyncio.Task] = set()
        self._loaded = asyncio.Semaphore(LOADED_AT_ONCE)
        self.parser = ReportParser()
        self.quota = UnmatchedQuota()

    def accepts(self, address: str) -> bool:
        address = address.strip().strip("<>").lower()
        if address == self.deps.complaint_address.lower():
            return True
        if token_of(address, address.rpartition("@")[2]) is not None:  # b-<token>@any domain
            deps = self.deps
            return (
                bounce_recipient(deps.read(), address, deps.secret, deps.bounce_domain) is not None
            )
        local = reports.mailto_token(address, self.deps.bounce_domain)
        return local is not None and mailto_target(self.deps.read(), local) is not None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # type: ignore[no-untyped-def]
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.TOO_MANY_RECIPIENTS
        if not self.accepts(address):
            return replies.NO_SUCH_USER
        public = address.strip().strip("<>").lower() == self.deps.complaint_address.lower()
        if public and self.quota.full(envelope.mail_from or ""):
            return replies.UNMATCHED_REPORTS
        envelope.rcpt_tos.append(address)
        return replies.RCPT_OK

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        raw, rcpts, sender = envelope.content, list(envelope.rcpt_tos), envelope.mail_from or ""
        report_id = await self.deps.write(lambda tx: store_raw(tx, raw, sender, rcpts))
        self._spawn(report_id, sender)
        return replies.REPORT_STORED.format(id=report_id)

    async def handle_exception(self, error: Exception) -> str:
        log.error("bounce listener failed", exc_info=error)
        return replies.INTERNAL_ERROR

    def _spawn(self, report_id: int, sender: str) -> None:
        if len(self._tasks) >= MAX_WAITING:
            log.info("report %d: %d reports wait already; the sweep takes it", report_id,
                     len(self._tasks))  # fmt: skip
            return
        task = asyncio.create_task(self._process_logged(report_id, sender))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process_logged(self, report_id: int, sender: str) -> None:
        """The raw report is stored already: a failure here leaves it unprocessed (the periodic
        sweep retries it within about a minute) and must not end anything else."""
        try:
            outcome = await self.process(report_id)
            if outcome.status in ("unrecognized", "unverified"):
                self.quota.count(sender)
        except Exception:
            log.exception("report %d: processing failed; kept, the sweep tries it again", report_id)

    async def process(self, report_id: int) -> reports.Outcome:
        async with self._loaded:
            raw, rcpts = load_raw(self.deps.read(), report_id)
            parsed = await self.parser.parse(raw)  # a child process with a deadline
            del raw
        deps = self.deps
        outcome = await deps.write(
            lambda tx: reports.apply_parsed(
                tx, report_id, parsed, rcpts, deps.secret, deps.bounce_domain
            )
        )
        logs.report(outcome)  # issue 14: one line per report
        return outcome

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)
        await asyncio.to_thread(self.parser.close)
