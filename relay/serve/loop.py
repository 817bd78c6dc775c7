"""The event loop `relay serve` runs each worker on (`relay.event_loop`).

uvloop (libuv) is the default: the relay's work per message is mostly short callbacks and
socket writes (SMTP replies, delivery commands), where it saves about a tenth of a millisecond
a message against asyncio's own loop (bench/README.md, "Where the time goes"). aiosmtpd and
aiosmtplib use only the public loop API, so they run on either; `asyncio` is the switch back.
"""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from relay.errors import SetupError

T = TypeVar("T")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A new-loop function for `name` ("uvloop" or "asyncio"; config checks the name)."""
    if name == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError as exc:  # a platform without a uvloop wheel
        raise SetupError(
            f'relay.event_loop = "uvloop" but uvloop cannot be imported ({exc}):'
            ' install it, or set relay.event_loop = "asyncio"'
        ) from None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], name: str) -> T:
    """asyncio.run(main) on the event loop called `name`."""
    try:
        factory = loop_factory(name)
    except SetupError:
        main.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
