"""The delivery scheduler (mox's queue loop is the model): wake, claim, dispatch, repeat.

It wakes on new work, on a timer (the next due retry) and when a delivery ends; claims due
recipients atomically; groups them by destination domain; and runs one lane per domain with a
per-destination connection cap under a global cap.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
import traceback
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bounces.verp import bounce_address
from relay import logs
from relay.delivery import queue
from relay.delivery.client import ClientSettings, Envelope, deliver_batch
from relay.delivery.decide import decide
from relay.delivery.outcome import Attempt, Reply
from relay.delivery.record import quarantine, record_result
from relay.delivery.routing import RouteError, Router

log = logging.getLogger(__name__)
Write = Callable[[Callable[[Any], Any]], Awaitable[Any]]
BATCH = 20  # recipients sent over one connection before it is closed
MAX_IDLE = 5.0  # the timer wakes the loop at least this often (sees CLI retries)


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
        read: Callable[[], Any],
        router: Router,
        client: ClientSettings,
        policy: Policy,
    ) -> None:
        self.write, self.read, self.router = write, read, router
        self.client, self.policy = client, policy
        self.me = f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._connections = asyncio.Semaphore(policy.max_connections)
        self._lanes: dict[str, deque[dict]] = defaultdict(deque)
        self._lane_workers: dict[str, int] = defaultdict(int)
        self._sending = 0  # rows taken from a lane by a batch that holds a connection
        self._tasks: set[asyncio.Task] = set()
        self._main: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self, release_all: bool) -> None:
        """`release_all`: this is the only process, so every claim left is a dead one (with
        several workers the supervisor does this before any starts)."""
        if release_all:
            released = await self.write(lambda c: queue.release_claims(c))
            if released:
                log.info("requeued %d recipients claimed by a process that stopped", released)
        self._main = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        """Stop claiming; lanes finish the transaction they are in; unsent rows go back."""
        self._stopping = True
        self.wake()
        if self._main:
            await self._main
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.client.data_timeout + 30)
        for lane in self._lanes.values():
            lane.clear()
        await self.write(lambda c: queue.release_claims(c, self.me))

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            room = self._capacity()
            if room > 0:
                rows = await self.write(lambda c, n=room: queue.claim_due(c, self.me, n))
                for row in rows:
                    self._lanes[self.router.destination(row["domain"])].append(row)
                self._dispatch()
            await self._sleep_until_due()

    def _capacity(self) -> int:
        """How many rows to claim: what all connections can carry, minus what is claimed
        already (waiting in a lane or being sent). Claiming more would only hold rows that
        another worker could send."""
        waiting = sum(len(lane) for lane in self._lanes.values())
        return max(0, self.policy.max_connections * BATCH - waiting - self._sending)

    def _dispatch(self) -> None:
        for domain, lane in self._lanes.items():
            while lane and self._lane_workers[domain] < self.policy.max_per_destination:
                self._lane_workers[domain] += 1
                task = asyncio.create_task(self._run_lane(domain), name=f"lane {domain}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _sleep_until_due(self) -> None:
        due = self.read_next_due()
        timeout = MAX_IDLE if due is None else min(MAX_IDLE, max(0.05, due - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def read_next_due(self) -> float | None:
        return queue.next_due(self.read())

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
                        await self._guarded(domain, batch)
                    finally:
                        self._sending -= len(batch)
        finally:
            self._lane_workers[domain] -= 1
            if not self._lane_workers[domain] and not lane:  # forget idle destinations
                del self._lane_workers[domain]
                self._lanes.pop(domain, None)
            self.wake()

    async def _guarded(self, domain: str, batch: list[dict]) -> None:
        """A bug must not lose or hang rows: park them as quarantined with the traceback."""
        done: set[int] = set()
        try:
            await self._deliver(domain, batch, done)
        except Exception:
            trace = traceback.format_exc()
            log.error("lane %s failed; quarantining %d rows\n%s", domain, len(batch), trace)
            left = [r["id"] for r in batch if r["id"] not in done]
            await self.write(lambda c: quarantine(c, left, trace))

    async def _deliver(self, domain: str, batch: list[dict], done: set[int]) -> None:
        by_id = {row["id"]: row for row in batch}

        async def report(envelope: Envelope, attempt: Attempt, never_works: bool = False) -> None:
            row = by_id[envelope.recipient_id]
            decision = decide(
                attempt.reply,
                row["attempts"] + 1,
                row["created_at"],
                time.time(),
                self.policy.schedule,
                self.policy.max_age,
                never_works=never_works,
            )
            await self.write(lambda c: record_result(c, row, attempt, decision))
            done.add(row["id"])
            logs.attempt(row, attempt, decision)  # issue 14: one line per attempt

        envelopes = [self._envelope(row) for row in batch]
        try:
            hosts = await self.router.route(domain)
        except RouteError as error:
            code = 556 if error.status == "5.1.10" else 550 if error.permanent else 451
            reply = Reply.synthetic_reply(code, error.status, error.text)
            for envelope in envelopes:
                await report(envelope, Attempt(reply, None, False, 0), error.permanent)
            return
        await deliver_batch(hosts, envelopes, self.client, report)

    def _envelope(self, row: dict) -> Envelope:
        def load() -> bytes:
            conn = self.read()
            return queue.load_prefix(conn, row["id"]) + queue.load_body(conn, row["message"])

        sender = bounce_address(self.policy.secret, row["id"], self.policy.bounce_domain)
        return Envelope(row["id"], sender, row["address"], load)
