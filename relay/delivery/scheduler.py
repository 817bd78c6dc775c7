"""The delivery scheduler (mox's queue loop is the model): wake, claim, dispatch, repeat.

It wakes on new work, on a timer (the next due retry) and when a delivery ends; claims due
recipients atomically under a lease; groups them by destination domain; and runs one lane per
domain with a per-destination connection cap under a global cap. While it holds rows it renews
their leases, so no other worker or node takes them over.

One destination never holds up the others (Postfix's queue manager): a claim serves domains
round-robin, a destination holds at most what its connections carry (`max_per_destination x
BATCH`) and is left out of claims while it does, and when a destination cannot be reached at
all (no session with any of its hosts, or its DNS failed), its other rows are deferred at once
with the same reason for a while (deadsites.py) instead of each waiting for a connection
attempt of its own (Postfix's dead-site logic).

A result the remote server gave is kept in memory until the store has saved it (issue 9: a
full disk must not make the relay send a message twice): saving retries with backoff while the
leases are renewed, and `relay status` shows the row as stuck in flight meanwhile.
"""

import asyncio
import contextlib
import logging
import time
import traceback
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bounces.verp import bounce_address
from relay import logs, metrics
from relay.delivery.body import message_loader
from relay.delivery.client import ClientSettings, Envelope, deliver_batch
from relay.delivery.deadsites import DeadSites, Unreachable
from relay.delivery.decide import decide
from relay.delivery.outcome import Attempt, Reply
from relay.delivery.recheck import why_not_send
from relay.delivery.record import delivery_result
from relay.delivery.routing import RouteError, Router
from relay.smtp.admission import MemoryGate
from relay.store.db import Read, Write
from relay.store.errors import StoreError, StoreUnavailable
from relay.store.queue import next_due
from relay.store.recipients import (
    Lease,
    claim_due,
    quarantine,
    record_attempt,
    release_leases,
    release_unsent,
    renew_leases,
    retries_version,
    suppress_claimed,
)
from relay.store.sql import Tx

T = TypeVar("T")
log = logging.getLogger(__name__)
BATCH = 20  # recipients sent over one connection before it is closed
DEFAULT_MEMORY = 64 * 1000 * 1000  # bytes of messages in memory, without a budget given
MAX_IDLE = 5.0  # the timer wakes the loop at least this often (sees CLI retries)
SAVE_FIRST_DELAY = 0.05  # a result that could not be saved is tried again after this,
SAVE_MAX_DELAY = 5.0  # doubling up to this
STORE_ERROR_PAUSE = 1.0  # after a claim the store refused (a full disk)
HELD_BACK_PAUSE = 1.0  # the next claim, while due rows wait only because their lane is full


@dataclass(frozen=True)
class Policy:
    schedule: tuple[float, ...]
    max_age: float
    max_connections: int
    max_per_destination: int
    bounce_domain: str
    secret: bytes


class Scheduler:
    def __init__(
        self,
        write: Write,
        read: Read,
        router: Router,
        client: ClientSettings,
        policy: Policy,
        lease: Lease,
        memory: MemoryGate | None = None,
    ) -> None:
        """`memory`: the worker's budget for messages in memory (acceptance shares it)."""
        self.write, self.read, self.router = write, read, router
        self.client, self.policy, self.lease = client, policy, lease
        self.memory = memory or MemoryGate(DEFAULT_MEMORY)
        self.me = lease.owner
        self._wake = asyncio.Event()
        self._stopping = False
        self._connections = asyncio.Semaphore(policy.max_connections)
        self._lanes: dict[str, deque[dict]] = defaultdict(deque)
        self._lane_workers: dict[str, int] = defaultdict(int)
        self._sending = 0  # rows taken from a lane by a batch that holds a connection
        self._held: Counter[str] = Counter()  # rows claimed per destination, not done yet
        self._dead = DeadSites()
        self._retries = 0  # retries_version() when _dead was last checked against it
        self._tasks: set[asyncio.Task] = set()
        self._main: asyncio.Task | None = None
        self._renewer: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self, release_node: bool) -> None:
        """`release_node`: this is the node's only process, so every lease the node holds is
        a dead one (with several workers the supervisor does this before any starts)."""
        if release_node:
            node = self.lease.node
            released = await self.write(lambda tx: release_leases(tx, node=node))
            if released:
                log.info("requeued %d recipients this node held when it stopped", released)
        self._main = asyncio.create_task(self._loop(), name="scheduler")
        self._renewer = asyncio.create_task(self._renew_leases(), name="lease renewal")

    async def stop(self) -> None:
        """Stop claiming; lanes finish the transaction they are in; rows never sent go back
        (due at once). A send still running after the wait keeps its lease: the node's next
        start gives it back, or another node takes it over once it expires."""
        self._stopping = True
        self.wake()
        if self._main:
            await self._main
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.client.data_timeout + 30)
        unsent = [row["id"] for lane in self._lanes.values() for row in lane]
        for lane in self._lanes.values():
            lane.clear()
        self._held.clear()
        try:
            await self.write(lambda tx: release_unsent(tx, self.me, unsent))
        except StoreError as exc:
            log.error("could not give back %d unsent recipients: %s", len(unsent), exc)
        if self._renewer:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self._forget_dead_after_a_retry()
            room, per_domain, skip = self._claimable()
            held_back = bool(skip) or room < self._capacity()
            if room > 0:
                try:
                    rows = await self.write(
                        lambda tx, n=room, each=per_domain, full=skip: claim_due(
                            tx, self.lease, n, per_domain=each, skip_domains=full
                        )
                    )
                except StoreError as exc:  # a full disk, say: try again later, never end
                    log.warning("could not claim due recipients: %s", exc)
                    await self._wait_for_wake(STORE_ERROR_PAUSE)
                    continue
                for row in rows:
                    destination = self.router.destination(row["domain"])
                    self._lanes[destination].append(row)
                    self._held[destination] += 1
                self._dispatch()
                taken = Counter(row["domain"] for row in rows).values()
                held_back = held_back or any(n >= per_domain for n in taken)
            await self._sleep_until_due(held_back)

    async def _renew_leases(self) -> None:
        """Renew every lease this worker holds, three times per lease: rows waiting in a
        lane, being sent, or with a result not saved yet."""
        every = self.lease.duration / 3
        while True:
            await asyncio.sleep(every)
            try:
                await self.write(lambda tx: renew_leases(tx, self.me, self.lease.duration))
            except StoreError as exc:
                log.warning("could not renew this worker's leases: %s", exc)

    def _capacity(self) -> int:
        """How many rows to claim: what all connections can carry, minus what is claimed
        already (waiting in a lane or being sent). Claiming more would only hold rows that
        another worker could send."""
        waiting = sum(len(lane) for lane in self._lanes.values())
        return max(0, self.policy.max_connections * BATCH - waiting - self._sending)

    def _forget_dead_after_a_retry(self) -> None:
        """`relay queue retry|flush` means "try now": no destination is held unreachable."""
        try:
            retries = retries_version(self.read())
        except StoreError:
            return
        if retries != self._retries:
            self._retries = retries
            self._dead.forget_all()

    def _claimable(self) -> tuple[int, int, tuple[str, ...]]:
        """How many rows to claim, how many of one domain at most, and which domains to leave
        out: those whose destination holds what its connections carry already."""
        room = self._capacity()
        cap = self.policy.max_per_destination * BATCH
        if self.router.relayhost is not None:  # one lane for every domain
            return min(room, cap - self._held[self.router.destination("")]), cap, ()
        full = tuple(sorted(d for d, held in self._held.items() if held >= cap))
        return room, cap, full

    def _dispatch(self) -> None:
        for domain, lane in self._lanes.items():
            while lane and self._lane_workers[domain] < self.policy.max_per_destination:
                self._lane_workers[domain] += 1
                task = asyncio.create_task(self._run_lane(domain), name=f"lane {domain}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _sleep_until_due(self, held_back: bool) -> None:
        """Until the next row is due, a wake-up (new work, a lane done) or MAX_IDLE. After a
        claim that left rows out (a destination's share taken, or held already), rows due
        already may be those: no new claim for them before HELD_BACK_PAUSE."""
        try:
            due = next_due(self.read())
        except StoreError as exc:
            log.warning("could not read the next due time: %s", exc)
            due = None
        timeout = MAX_IDLE if due is None else min(MAX_IDLE, max(0.05, due - time.time()))
        if held_back and due is not None and due <= time.time():
            timeout = HELD_BACK_PAUSE
        await self._wait_for_wake(timeout)

    async def _wait_for_wake(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _run_lane(self, domain: str) -> None:
        lane = self._lanes[domain]
        try:
            while True:
                # The batch is taken only once a connection is free: rows stay in the lane
                # (counted, and released by stop()) while they wait for one.
                async with self._connections:
                    if self._stopping or not lane:
                        return
                    batch = [lane.popleft() for _ in range(min(BATCH, len(lane)))]
                    self._sending += len(batch)
                    try:
                        await self._send_or_give_up(domain, batch)
                    finally:
                        self._sending -= len(batch)
                        self._held[domain] -= len(batch)
        finally:
            self._lane_workers[domain] -= 1
            if not self._lane_workers[domain] and not lane:  # forget idle destinations
                del self._lane_workers[domain]
                self._lanes.pop(domain, None)
                if self._held[domain] <= 0:
                    del self._held[domain]
            self.wake()

    async def _send_or_give_up(self, destination: str, batch: list[dict]) -> None:
        """Send the batch, or, while the destination is known unreachable, defer it at once
        with that reason (no connection attempt per batch: Postfix's dead site)."""
        dead = self._dead.reason(destination)
        if dead is not None:
            await self._guarded(destination, batch, dead)
            return
        unreachable = await self._guarded(destination, batch)
        if unreachable is not None:
            log.info("%s unreachable: its mail is deferred untried for a while", destination)
        self._dead.outcome(destination, unreachable)

    async def _guarded(
        self, domain: str, batch: list[dict], unreachable: Unreachable | None = None
    ) -> Unreachable | None:
        """A bug must not lose or hang rows: park them as quarantined with the traceback.
        Returns why the destination took no session, if so."""
        done: set[int] = set()
        try:
            return await self._deliver(domain, batch, done, unreachable)
        except Exception:
            trace = traceback.format_exc()
            log.error("lane %s failed; quarantining %d rows\n%s", domain, len(batch), trace)
            left = [r["id"] for r in batch if r["id"] not in done]
            try:
                await self._save(lambda tx: quarantine(tx, self.me, left, trace), "quarantine")
            except StoreError as exc:  # the writer stopped: the rows keep this worker's lease
                log.error("could not quarantine %d rows of lane %s: %s", len(left), domain, exc)
            return None

    async def _deliver(
        self, domain: str, batch: list[dict], done: set[int], unreachable: Unreachable | None
    ) -> Unreachable | None:
        batch = await self._drop_suppressed(batch, done)
        if not batch:  # all suppressed at the retry: no lookup, no connection
            return unreachable
        by_id = {row["id"]: row for row in batch}
        bugs: list[Exception] = []

        async def report(envelope: Envelope, attempt: Attempt, never_works: bool = False) -> None:
            # Runs as a task of the client's; it never raises into the client, whose other
            # results must still be saved (a bug is raised below, after the batch).
            try:
                await self._record(by_id[envelope.recipient_id], attempt, never_works)
                done.add(envelope.recipient_id)
            except Exception as exc:
                bugs.append(exc)

        envelopes = [self._envelope(row) for row in batch]
        if unreachable is None:
            try:
                hosts = await self.router.route(domain)
            except RouteError as error:
                code = 556 if error.status == "5.1.10" else 550 if error.permanent else 451
                reply = Reply.synthetic_reply(code, error.status, error.text)
                unreachable = Unreachable(reply, error.permanent)
            else:
                refused = await deliver_batch(hosts, envelopes, self.client, report)
                if bugs:
                    raise bugs[0]
                return None if refused is None else Unreachable(refused)
        for envelope in envelopes:
            attempt = Attempt(unreachable.reply, None, False, 0)
            await report(envelope, attempt, unreachable.never_works)
        if bugs:
            raise bugs[0]
        return unreachable

    async def _drop_suppressed(self, batch: list[dict], done: set[int]) -> list[dict]:
        """Retries whose address was blocked, or whose customer opted out, while they waited:
        suppressed instead of sent (recheck.py); the rest of the batch."""
        conn = self.read()
        keep = []
        for row in batch:
            why = why_not_send(conn, row) if row["attempts"] else None
            if why is None:
                keep.append(row)
                continue
            applied = await self._save(
                lambda tx, row=row, why=why: suppress_claimed(tx, self.me, row, *why),
                f"the suppression of {row['id']}",
            )
            if applied:
                metrics.observe("suppressed", row["shop"], row.get("kind", ""))
            done.add(row["id"])
            log.info("recipient %d: %s (%s), not sent", row["id"], why[0], why[1])
        return keep

    async def _record(self, row: dict, attempt: Attempt, never_works: bool) -> None:
        decision = decide(
            attempt.reply,
            row["attempts"] + 1,
            row["created_at"],
            time.time(),
            self.policy.schedule,
            self.policy.max_age,
            never_works=never_works,
        )
        result = delivery_result(row, attempt, decision)
        applied = await self._save(
            lambda tx: record_attempt(tx, result, self.me), f"the result for {row['id']}"
        )
        logs.attempt(row, attempt, decision)  # issue 14: one line per attempt
        if applied:
            metrics.observe(result.state, result.shop, row.get("kind", ""), since=row["created_at"])
        else:  # a DSN bounced it meanwhile, or our lease was taken over
            log.info("recipient %d: %s kept as an attempt only", row["id"], result.reply)

    async def _save(self, job: Callable[[Tx], T], what: str) -> T:
        """Write until it is written: only a store that is unavailable (a full disk) is waited
        for, with backoff; the result stays in memory meanwhile and the leases are renewed."""
        delay, tries = SAVE_FIRST_DELAY, 0
        while True:
            try:
                saved = await self.write(job)
            except StoreUnavailable as exc:
                tries += 1
                if tries == 1 or tries % 20 == 0:
                    log.warning("could not save %s (%s); keeping it, trying again", what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, SAVE_MAX_DELAY)
                continue
            if tries:
                log.info("saved %s after %d failed tries", what, tries)
            return saved

    def _envelope(self, row: dict) -> Envelope:
        load = message_loader(self.read, self.memory, row)
        # The shop's custom return path when its DNS check found one usable at submission
        # (SPF then aligns with its From: DMARC passes on SPF too), else the relay's domain.
        domain = row.get("return_path") or self.policy.bounce_domain
        sender = bounce_address(self.policy.secret, row["id"], domain)
        return Envelope(row["id"], sender, row["address"], load)
