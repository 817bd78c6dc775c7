"""The outbox worker: claims due webhook rows, POSTs each in a task of its own, records the
result, and retries on `[webhooks] retry_schedule` until `[webhooks] max_age`.

One worker per relay (worker 0 of `relay serve`; on several nodes the one holding the
periodic-work lock). Rows are claimed under a lease owned by `<node>/outbox`, renewed while
the worker holds them: a worker that dies leaves leases the next start on that node gives
back at once (and any claimer takes over when they run out), so every row is sent at least
once and none is lost; the webhook-id lets the shop drop a repeat.

Nobody waits for anybody else: each row is its own task; the sender holds a shop's POSTs to
`max_per_shop` at a time, and the worker claims at most `per_shop` rows of one shop while
earlier ones are in flight, so a shop whose endpoint hangs ties up `per_shop` rows of its own
(for `timeout` each) and nothing of any other shop, nor any delivery of mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from relay.store import outbox as store
from relay.store.db import Read, Write
from relay.store.errors import StoreError
from relay.store.sql import Tx
from relay.store.webhooks import Endpoint, disable_endpoint, endpoints
from relay.webhooks.schedule import next_attempt
from relay.webhooks.sender import EXCERPT, Delivery, Outcome, Sender, SendResult
from relay.webhooks.vault import SealBroken, Vault

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 3600.0
KEEP_FINISHED = 7 * 86400.0  # finished rows are kept this long (status views, `shop webhook`)
RECORD_TRIES = (0.05, 0.2, 1.0, 5.0)  # waits between tries to record a result the store refused


@dataclass(frozen=True)
class OutboxSettings:
    schedule: tuple[float, ...]  # [webhooks] retry_schedule
    max_age: float  # [webhooks] max_age
    timeout: float  # [webhooks] timeout: one POST at most
    # Rows of one shop claimed while earlier ones are in flight: enough to keep one shop's
    # POSTs back to back while results are committed, few enough that shops whose endpoints
    # hang (each row then waits `timeout` for its turn) fill little of `in_flight`.
    per_shop: int = 32
    in_flight: int = 1000  # rows claimed in all
    batch: int = 200  # rows per claim
    poll: float = 0.25  # how often an idle worker looks for new rows (other processes write)

    @property
    def lease(self) -> float:
        """Renewed every third of it while held: a crash frees the rows this long after."""
        return max(60.0, 3 * self.timeout)


def outbox_owner(node: str) -> str:
    return f"{node}/outbox"


def signing_secrets(vault: Vault, endpoint: Endpoint, now: float) -> list[str]:
    """The secrets a POST is signed with: the current one first, then a rotated one while it
    still overlaps (Standard Webhooks: one signature each)."""
    found = [vault.open(endpoint.shop, endpoint.secret)]
    if endpoint.previous_secret and (endpoint.previous_until or 0) > now:
        found.append(vault.open(endpoint.shop, endpoint.previous_secret))
    return found


class OutboxWorker:
    def __init__(
        self,
        read: Read,
        write: Write,
        sender: Sender,
        vault: Vault,
        settings: OutboxSettings,
        owner: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read, self.write, self.sender, self.vault = read, write, sender, vault
        self.settings, self.owner, self.clock = settings, owner, clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending: set[int] = set()  # ids of the rows whose tasks run: the leases renewed
        self._per_shop: Counter[str] = Counter()
        self._loop_task: asyncio.Task[None] | None = None
        self._housekept = 0.0
        self._renewed = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Give back what this node's worker held when it stopped (a crash), then run."""
        released = await self.write(lambda tx: store.release(tx, self.owner))
        if released:
            log.info("webhooks: %d event(s) left in flight by the last run are due again", released)
        self._loop_task = asyncio.create_task(self._loop(), name="webhook-outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, let POSTs in flight end (up to `grace`), give back the rest."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(StoreError):
            await self.write(lambda tx: store.release(tx, self.owner))

    async def run(self) -> None:
        """Start, and run until cancelled, then stop: the job form of periodic work (several
        nodes: the node holding the `webhooks` lock runs it, relay.serve.singleton)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    def wake(self) -> None:
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    # -- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                claimed = await self._round()
                await self._renew()
                await self._housekeep()
            except StoreError as exc:  # a full or locked database: try again shortly
                log.warning("webhooks: the store refused a claim: %s", exc)
                claimed = 0
                await asyncio.sleep(1.0)
            except Exception:  # a bug must not end webhook delivery for good
                log.exception("webhooks: outbox round failed")
                claimed = 0
                await asyncio.sleep(1.0)
            if claimed == 0:
                await self._sleep()

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.poll)
        self._wake.clear()

    async def _round(self) -> int:
        """Claim what is due and hand each row to a task of its own; how many."""
        now = self.clock()
        room = min(self.settings.in_flight - len(self._tasks), self.settings.batch)
        if room <= 0 or not store.any_due(self.read(), now):
            return 0
        busy = tuple(sorted(s for s, n in self._per_shop.items() if n >= self.settings.per_shop))
        claimed = await self.write(
            lambda tx: store.claim(
                tx,
                self.owner,
                self.settings.lease,
                room,
                now,
                skip_shops=busy,
                per_shop=self.settings.per_shop,
                in_flight=dict(self._per_shop),
            )
        )
        if not claimed:
            return 0
        found = endpoints(self.read(), sorted({c.shop for c in claimed}))
        for row in claimed:
            self._per_shop[row.shop] += 1
            self._sending.add(row.id)
            task = asyncio.create_task(self._deliver(row, found.get(row.shop)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _t, row_id=row.id: self._sending.discard(row_id))
        return len(claimed)

    # -- one row ---------------------------------------------------------------------------

    async def _deliver(self, row: store.Claimed, endpoint: Endpoint | None) -> None:
        posted = recorded = False
        try:
            if endpoint is None or not endpoint.active:
                why = "the shop has no webhook endpoint now"
                if endpoint is not None:
                    why = f"the webhook endpoint is disabled: {endpoint.disabled_why}"
                await self._save(lambda tx: store.drop(tx, self.owner, row.id, why, self.clock()))
                return
            try:
                secrets = signing_secrets(self.vault, endpoint, self.clock())
            except SealBroken as exc:
                result = SendResult(Outcome.REFUSED, str(exc))
            else:
                delivery = Delivery(row.shop, endpoint.url, secrets, row.webhook_id, row.body)
                result = await self.sender.send(delivery)
            posted = True
            self._done_waiting(row.shop)  # the shop's next rows may be claimed meanwhile
            await self._record(row, result)
            recorded = True
        except Exception as exc:
            log.exception("webhooks: event %s of shop %s failed", row.webhook_id, row.shop)
            if not recorded:
                await self._record_failure(row, exc)
        finally:
            if not posted:
                self._done_waiting(row.shop)

    def _done_waiting(self, shop: str) -> None:
        self._per_shop[shop] -= 1
        if self._per_shop[shop] <= 0:
            del self._per_shop[shop]
        self._wake.set()

    async def _record(self, row: store.Claimed, result: SendResult) -> None:
        now = self.clock()
        if result.outcome is Outcome.DELIVERED:
            final: store.OutboxState | None = store.OutboxState.DELIVERED
            due = None
        elif result.outcome is Outcome.GONE:
            final, due = store.OutboxState.DROPPED, None
        else:
            due = next_attempt(
                row.attempts + 1,
                row.created_at,
                now,
                max_age=self.settings.max_age,
                schedule=self.settings.schedule,
                retry_after=result.retry_after,
            )
            final = None if due is not None else store.OutboxState.FAILED
        outcome = store.Result(
            row.id, str(result.outcome), result.status, result.why, now, due, final
        )
        if result.outcome is not Outcome.DELIVERED:
            log.warning(
                "webhooks: %s to shop %s: %s%s",
                row.type,
                row.shop,
                result.why,
                "" if due is None else f"; next try in {due - now:.0f}s",
            )

        def job(tx: Tx) -> None:
            store.record(tx, self.owner, outcome)
            if result.outcome is Outcome.GONE:  # Standard Webhooks: disable the endpoint
                why = f"{result.why} (at {time.strftime('%Y-%m-%d %H:%M', time.gmtime(now))} UTC)"
                disable_endpoint(tx, row.shop, why, now)
                store.drop_pending(tx, row.shop, "the endpoint answered 410 Gone", now)

        await self._save(job)

    async def _record_failure(self, row: store.Claimed, exc: Exception) -> None:
        """A bug, or an answer nothing foresaw, counts as a failed try: the row goes back on
        the schedule and ends at max_age like any other. Left leased, it would be renewed with
        the worker's other rows, never tried again, and hold back the message's later events."""
        why = f"internal error: {type(exc).__name__}: {exc}"[:EXCERPT]
        try:
            await self._record(row, SendResult(Outcome.RETRY, why))
        except Exception:  # the row's lease runs out (it is renewed no more); sent again then
            log.exception("webhooks: the failure of event %s was not recorded", row.webhook_id)

    async def _save(self, job: Callable[[Tx], object]) -> None:
        """Write a result; a store that refuses (a full disk) is asked again a few times. If
        it never takes it, the lease runs out (only rows still being sent are renewed) and the
        event is sent again (at least once)."""
        for wait in (*RECORD_TRIES, None):
            try:
                await self.write(job)
                return
            except StoreError as exc:
                if wait is None:
                    log.error("webhooks: result not saved, the event will be sent again: %s", exc)
                    return
                await asyncio.sleep(wait)

    async def _renew(self) -> None:
        now = self.clock()
        if not self._tasks or now - self._renewed < self.settings.lease / 3:
            return
        self._renewed = now
        until, ids = now + self.settings.lease, sorted(self._sending)
        await self.write(lambda tx: store.renew(tx, self.owner, ids, until))

    async def _housekeep(self) -> None:
        now = self.clock()
        if now - self._housekept < HOUSEKEEPING_EVERY:
            return
        self._housekept = now
        purged = await self.write(lambda tx: store.purge_finished(tx, now - KEEP_FINISHED))
        if purged:
            log.info("webhooks: forgot %d event(s) finished more than 7 days ago", purged)
