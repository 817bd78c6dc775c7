"""Where the API renders templates: off the event loop of worker 0, which also serves SMTP,
delivery and the outbox. `[http] render_workers = 0` renders in one thread of worker 0 (MJML
and CSS inlining then share its core); N > 0 renders in N processes of their own (spawned,
dying with the relay, each with its read handle on the store), so a shop system's sends use
the machine's other cores too."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from pathlib import Path
from typing import Any

from relay.model import Shop
from relay.procs import die_with_parent
from relay.render import RenderError
from relay.store.db import Database, Read, open_database

_CHILD_DB: Database | None = None  # the store of a render process (set by its initializer)


class Renderer:
    def __init__(self, read: Read, processes: int = 0, store: tuple[str, Path] | None = None):
        self._read = read
        if processes > 0:
            if store is None:
                raise ValueError("render processes need the store's url and base")
            self._pool: concurrent.futures.Executor = concurrent.futures.ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),  # the parent has threads
                initializer=_child_start,
                initargs=store,
            )
            self._in_process = False
        else:  # one thread: renders never race on compose's caches
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="render")
            self._in_process = True

    async def render(self, shop: Shop, request: Any) -> bytes:
        """The message `relay.compose.compose` makes; RenderError when it cannot."""
        loop = asyncio.get_running_loop()
        if self._in_process:
            return await loop.run_in_executor(self._pool, _compose, self._read, shop, request)
        outcome = await loop.run_in_executor(self._pool, _child_render, shop, request)
        if isinstance(outcome, bytes):
            return outcome
        reason, template, line, variable = outcome
        raise RenderError(reason, template=template, line=line, variable=variable)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _compose(read: Read, shop: Shop, request: Any) -> bytes:
    from relay.compose import compose

    return compose(read(), shop, request)


def _child_start(url: str, base: Path) -> None:
    global _CHILD_DB
    die_with_parent()
    _CHILD_DB = open_database(url, base)


def _child_render(
    shop: Shop, request: Any
) -> bytes | tuple[str, str | None, int | None, str | None]:
    """In a render process: the bytes, or the refusal as plain values (an exception with
    keyword arguments does not survive pickling whole)."""
    assert _CHILD_DB is not None
    try:
        return _compose(_CHILD_DB.read, shop, request)
    except RenderError as exc:
        return (exc.reason, exc.template, exc.line, exc.variable)
