"""A receiving SMTP server on loopback (aiosmtpd) that holds its reply to the final dot until
the test lets it go: a test decides what happens between "the MX has the message" and "the
relay has its 250", with no sleeps. Also the pieces to run the real scheduler against it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from relay.delivery.client import ClientSettings
from relay.delivery.routing import MxHost
from relay.delivery.scheduler import Policy, Scheduler
from relay.store.db import Database
from relay.store.recipients import Lease
from tests.rig.tools import free_port

SECRET = b"k" * 32
BOUNCE_DOMAIN = "bounces.relay.example.net"


class HeldMx:
    """`received` is set when a message's data has arrived; the reply waits for `release`."""

    def __init__(self, *, hold: bool = True) -> None:
        self.received = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.messages: list[bytes] = []
        self.on_data: Callable[[], None] = lambda: None
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        self.on_data()
        self.received.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return "250 2.0.0 Ok: queued"

    def __enter__(self) -> HeldMx:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._controller.stop()


class LoopbackRouter:
    """Every domain's MX is the held server on 127.0.0.1."""

    relayhost = None

    def destination(self, domain: str) -> str:
        return domain

    async def route(self, domain: str) -> list[MxHost]:
        return [MxHost(f"mx.{domain}", 10, ("127.0.0.1",))]


def scheduler_for(db: Database, write: Any, mx: HeldMx, lease: Lease) -> Scheduler:
    client = ClientSettings("relay.example.net", mx.port, 5, 30, 30, False)
    policy = Policy((60.0,), 3600.0, 4, 2, BOUNCE_DOMAIN, SECRET)
    return Scheduler(write, db.read, LoopbackRouter(), client, policy, lease)  # type: ignore[arg-type]


async def until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for a state the test caused (not for time to pass): poll it, with a bound."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def collect_loop_errors(loop: asyncio.AbstractEventLoop) -> list[dict]:
    """Everything the loop would log as an unhandled error ("Task exception was never
    retrieved", ...), collected for the test to assert on."""
    errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    return errors


def dsn_for(recipient_id: int, address: str = "max@example.org") -> tuple[bytes, str]:
    """A real-world DSN (Postfix, 550 5.1.1 user unknown) sent to this recipient's signed
    bounce address; returns (bytes, the envelope recipient)."""
    from bounces.verp import bounce_address

    sample = Path(__file__).parent / "data" / "bounces" / "relay-token-dsn.eml"
    to = bounce_address(SECRET, recipient_id, BOUNCE_DOMAIN)
    raw = sample.read_bytes().replace(b"b-Zm9vYmFyLXRva2VuXzEyMw@" + BOUNCE_DOMAIN.encode(),
                                      to.encode())  # fmt: skip
    return raw.replace(b"max@example.org", address.encode()), to
