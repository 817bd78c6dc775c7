"""A shop's webhook receiver for tests and bench/webhooks: a real aiohttp server on 127.0.0.1.

It verifies every request with `standardwebhooks` (as a shop's software would), records it, and
answers from a script of `Answer`s (then 204 No Content); a GET says "COUNT FAILURES".
`blackhole()` is a TCP server that accepts connections and never sends a byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    endless: bool = False  # stream the body again and again, never ending the response
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the request arrived
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any  # what Webhook.verify returned; None when the signature did not verify
    error: str = ""  # why verification failed


class Receiver:
    """Use as `async with Receiver(secret) as hook:`; POST to `hook.url`."""

    def __init__(
        self,
        secret: str,
        answers: list[Answer] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        record: bool = True,  # False: verify and count only (bench/webhooks)
        port: int = 0,  # 0: a free one
    ) -> None:
        self._verifier = Webhook(secret)
        self.answers = list(answers or [])
        self.received: list[Received] = []
        self.count = 0
        self.failures = 0  # requests whose signature did not verify
        self._tls = tls
        self._record = record
        self._runner: web.AppRunner | None = None
        self.port = port
        self.arrived = asyncio.Event()

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}/hook"

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._tls)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":  # for a process that runs it (bench/webhooks)
            return web.Response(text=f"{self.count} {self.failures}")
        body = await request.read()
        received = self._verify(request, body)
        self.count += 1
        self.failures += received.payload is None
        if self._record:
            self.received.append(received)
        self.arrived.set()
        answer = self.answers.pop(0) if self.answers else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.endless:
            return await _endless(request, answer)
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    def _verify(self, request: web.Request, body: bytes) -> Received:
        headers = dict(request.headers)
        try:
            payload, error = self._verifier.verify(body, headers), ""
        except WebhookVerificationError as exc:
            payload, error = None, str(exc)
        return Received(time.monotonic(), request.path, headers, body, payload, error)

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while self.count < count:
                self.arrived.clear()
                await self.arrived.wait()


async def _endless(request: web.Request, answer: Answer) -> web.StreamResponse:
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        while True:
            await response.write(answer.body or b"x" * 65536)
    return response


@contextlib.contextmanager
def blackhole() -> Iterator[int]:
    """A port on 127.0.0.1 where the kernel completes TCP handshakes (listen backlog) and
    nobody ever reads or answers: a receiver that hangs. Yields the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@contextlib.asynccontextmanager
async def receivers(secret: str, count: int, **kwargs: Any) -> AsyncIterator[list[Receiver]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(Receiver(secret, **kwargs)) for _ in range(count)]


class ReceiverThread:
    """A Receiver in a thread of its own, for tests that drive the relay from plain code:
    `with ReceiverThread(secret, port=...) as hook: hook.wait_for(3)`. `stop()` and `start()`
    take it down and bring it back on the same port (an endpoint that is down for a while)."""

    def __init__(self, secret: str, answers: list[Answer] | None = None, port: int = 0) -> None:
        self.secret, self.answers, self.port = secret, list(answers or []), port
        self.received: list[Received] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def count(self) -> int:
        return len(self.received)

    def start(self) -> ReceiverThread:
        ready = threading.Event()

        async def serve() -> None:
            self._stop = asyncio.Event()
            async with Receiver(self.secret, self.answers, port=self.port) as hook:
                hook.received = self.received  # one list across restarts
                self.port = hook.port
                ready.set()
                await self._stop.wait()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._loop = self._thread = self._stop = None

    def __enter__(self) -> ReceiverThread:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def payloads(self, event_type: str | None = None) -> list[Any]:
        return [
            r.payload
            for r in list(self.received)
            if r.payload is not None and (event_type is None or r.payload["type"] == event_type)
        ]

    def wait_for(
        self, predicate: Any = None, timeout: float = 30.0, what: str = "webhook events"
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(
            f"timed out waiting for {what}; got {[p['type'] for p in self.payloads()]}"
        )
