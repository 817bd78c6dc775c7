"""Periodic work that runs on one node at a time: DNS re-checks, report recovery, retention,
the webhook outbox.

    singletons = Singletons(db, first_worker=role.first)
    singletons.add("webhooks", outbox.run)     # `run` loops until it is cancelled
    singletons.start(); ...; await singletons.stop()

On PostgreSQL every node's worker 0 competes for a session-level advisory lock per job
(`periodic:<name>`, on one dedicated connection): the holder runs the job, the others wait and
try again every CHECK_EVERY seconds. The holder checks its connection as often; when it has
dropped, the server has freed its locks and another node may already have taken them, so the
holder cancels those jobs at once and competes again on a new connection. A node that dies
frees its locks with its connection: another node takes the work over within CHECK_EVERY.

On SQLite there is one node: worker 0 runs every job, as before several nodes existed; the
other workers run none.

A job is a coroutine function that loops; it is cancelled when its lock is lost and called
again when the lock is regained, so what it does must be safe to repeat (its writes are
guarded, or idempotent). One that raises is logged and started again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from relay.store.db import Database
from relay.store.errors import StoreError
from relay.store.locks import LockSession

log = logging.getLogger("relay")
CHECK_EVERY = 5.0
AFTER_FAILURE = 10.0
Job = Callable[[], Awaitable[object]]


class Singletons:
    def __init__(self, db: Database, *, first_worker: bool) -> None:
        self._here = first_worker
        self._session: LockSession | None = db.lock_session() if first_worker else None
        self._jobs: dict[str, Job] = {}
        self._running: dict[str, asyncio.Task] = {}
        self._keeper: asyncio.Task | None = None

    def add(self, name: str, job: Job) -> None:
        """Run `job()` whenever this process holds the periodic lock `name` (call before or
        after start())."""
        self._jobs[name] = job

    def held(self) -> list[str]:
        """The jobs this process runs now (for the heartbeat: `relay nodes`)."""
        return sorted(name for name, task in self._running.items() if not task.done())

    def start(self) -> None:
        if self._here:
            self._keeper = asyncio.create_task(self._keep(), name="periodic work")

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        await self._cancel(list(self._running))
        if self._session is not None:
            await asyncio.to_thread(self._session.close)

    async def _keep(self) -> None:
        while True:
            try:
                await self._check()
            except StoreError as exc:  # the database is away: the locks are gone with it
                log.warning("periodic work: %s; stopping it here until the database is back", exc)
                await self._cancel(list(self._running))
            await asyncio.sleep(CHECK_EVERY)

    async def _check(self) -> None:
        session = self._session
        if session is not None and self._running and not await asyncio.to_thread(session.alive):
            log.warning("periodic work: the lock connection dropped; stopping %s", self.held())
            await self._cancel(list(self._running))
        for name, job in self._jobs.items():
            if name in self._running and not self._running[name].done():
                continue
            if session is not None and not await asyncio.to_thread(
                session.try_lock, f"periodic:{name}"
            ):
                continue  # another node runs it
            if name not in self._running:
                log.info("periodic work: %s runs on this node", name)
            self._running[name] = asyncio.create_task(self._run(name, job), name=name)

    async def _run(self, name: str, job: Job) -> None:
        while True:
            try:
                await job()
                return
            except Exception:
                log.exception("periodic work %s failed; starting it again", name)
                await asyncio.sleep(AFTER_FAILURE)

    async def _cancel(self, names: list[str]) -> None:
        for name in names:
            task = self._running.pop(name, None)
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self._session is not None:
                await asyncio.to_thread(self._session.unlock, f"periodic:{name}")
