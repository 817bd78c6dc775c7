"""The message a delivery sends, read when its transaction starts and held only while it runs.

A worker delivers up to `max_connections` messages at once; were each read whole regardless,
50 messages of 24 MB would take 2.4 GB. So a read first takes the message's size from the
worker's memory budget, the same relay.smtp.admission.MemoryGate that bounds acceptance (64 MB
a worker: beyond it large messages go one at a time), and large messages are read in a thread
so the event loop keeps serving the other connections meanwhile.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from relay.delivery.client import Loader
from relay.smtp.admission import MemoryGate
from relay.store.db import Read
from relay.store.messages import load_body, load_prefix

READ_IN_THREAD_ABOVE = 256 * 1024  # bytes; a smaller read costs less than a thread hand-off
PREFIX_ROOM = 4096  # the recipient's own header lines, stored apart from the shared body


def held_size(row: dict) -> int:
    """What a message takes in memory while it is sent: itself and one copy (the prefix joined
    to the body, or the dot-stuffed form that client._data writes when a line starts with a
    dot), each for a moment."""
    return 2 * (int(row.get("size") or 0) + PREFIX_ROOM)


def message_loader(read: Read, memory: MemoryGate, row: dict) -> Loader:
    def read_message() -> bytes:
        conn = read()  # the calling thread's handle (relay.store.db)
        return load_prefix(conn, row["id"]) + load_body(conn, row["message"])

    size = held_size(row)

    @contextlib.asynccontextmanager
    async def load() -> AsyncIterator[bytes]:
        async with memory.hold(size):
            if size > READ_IN_THREAD_ABOVE:
                yield await asyncio.to_thread(read_message)
            else:
                yield read_message()

    return load
