"""Reports are parsed in a child process with a deadline.

Anyone may send a report (the complaint address needs no token), and the parser is ours: a
pattern that backtracks holds the GIL for the whole match, so a thread cannot be stopped and
would stop every listener of the worker. A child process can be killed: a report it has not
read within PARSE_SECONDS is recorded as `unreadable` (stored, matched by its envelope token
if it has one, never blocking anything else), and the next report gets a fresh child.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.pool
from collections.abc import Callable

from bounces import Report, parse_report
from relay.procs import die_with_parent

log = logging.getLogger(__name__)

PARSE_SECONDS = 10.0  # a real report takes milliseconds; the slowest of the corpus ~50 ms


class ReportParser:
    """One child process, one report at a time: a timeout then kills only the hostile one."""

    def __init__(
        self, deadline: float = PARSE_SECONDS, read: Callable[[bytes], Report] = parse_report
    ) -> None:
        self.deadline = deadline
        self.read = read  # a module-level function: it is pickled to the child
        self._pool: multiprocessing.pool.Pool | None = None
        self._one_at_a_time = asyncio.Lock()

    async def parse(self, raw: bytes) -> Report:
        async with self._one_at_a_time:
            pending = self._child().apply_async(self.read, (raw,))
            try:
                return await asyncio.to_thread(pending.get, self.deadline)
            except multiprocessing.TimeoutError:
                await asyncio.to_thread(self.close)  # the child is still parsing: kill it
                log.warning("a report of %d bytes was not read within %.0f s", len(raw),
                            self.deadline)  # fmt: skip
                return unreadable(f"parse: not done within {self.deadline:g} s; not read")

    def _child(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            # spawn, not fork: the worker runs threads (the store's writer) and an event loop.
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(1, initializer=die_with_parent)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def unreadable(why: str) -> Report:
    return Report(kind="other", format="unreadable", errors=[why])
