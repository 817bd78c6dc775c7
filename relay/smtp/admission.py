"""Who gets an SMTP session, and what big messages may hold in memory at once.

Submission sessions are capped as a whole (`max_sessions`), and the ones that have not
authenticated yet have caps of their own: all together (`max_unauthenticated`, less than the
whole, so shops that logged in always find room) and per client address. When the pool of
unauthenticated sessions is full, a newcomer gets in by closing the oldest session of the
address that holds the most of them: someone opening connections from a few addresses and
never logging in only pushes out their own sessions, never the one session of a shop that is
on its way to AUTH. Each unauthenticated session also has a deadline (`auth_timeout`) that no
command extends, NOOP included. IPv6 clients count per /64, the block one host usually has.

The bounce listener has no AUTH: its sessions are capped as a whole and per address, and none is
closed to make room (a reporting MTA's session is as good as the next one).
"""

import asyncio
import collections
import contextlib
import ctypes
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from relay.smtp import replies

log = logging.getLogger(__name__)


class Closable(Protocol):
    def close_with(self, reply: str) -> None: ...


@dataclass(frozen=True)
class Limits:
    sessions: int
    unauthenticated: int  # below `sessions` where there is AUTH: the rest is kept for shops
    per_address: int  # unauthenticated sessions from one address
    auth_timeout: float | None  # None: a listener without AUTH (no deadline, nobody evicted)


def client_key(address: str) -> str:
    """The unit the per-address cap counts: an IPv4 address, or an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Admission:
    """The sessions of one worker's listeners that share these limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._waiting: dict[str, dict[Closable, None]] = {}  # per client, oldest first
        self._waiting_count = 0
        self._client: dict[Closable, str] = {}
        self._authenticated: set[Closable] = set()

    @property
    def active(self) -> int:
        return self._waiting_count + len(self._authenticated)

    def admit(
        self, address: str, authenticated: bool, make: Callable[[], Closable]
    ) -> Closable | str:
        """The session `make()` built for this client, or the reply that refuses it (nothing is
        built for a refused client: refusing must stay cheap under a flood)."""
        limits = self.limits
        key = client_key(address)
        if not authenticated and len(self._waiting.get(key, ())) >= limits.per_address:
            return replies.TOO_MANY_FROM_ADDRESS
        full = self.active >= limits.sessions
        if not authenticated:
            full = full or self._waiting_count >= limits.unauthenticated
        if full and not self._make_room():
            return replies.TOO_MANY_SESSIONS
        session = make()
        if authenticated:
            self._authenticated.add(session)
        else:
            self._waiting.setdefault(key, {})[session] = None
            self._client[session] = key
            self._waiting_count += 1
        return session

    def authenticated(self, session: Closable) -> None:
        if session in self._client:
            self._forget_waiting(session)
            self._authenticated.add(session)

    def release(self, session: Closable) -> None:
        if session in self._client:
            self._forget_waiting(session)
        self._authenticated.discard(session)

    def _make_room(self) -> bool:
        if self.limits.auth_timeout is None or not self._waiting_count:
            return False
        busiest = max(self._waiting.values(), key=len)
        oldest = next(iter(busiest))
        self._forget_waiting(oldest)
        oldest.close_with(replies.MADE_ROOM)
        return True

    def _forget_waiting(self, session: Closable) -> None:
        key = self._client.pop(session)
        sessions = self._waiting[key]
        del sessions[session]
        if not sessions:
            del self._waiting[key]
        self._waiting_count -= 1


class Gate(asyncio.Protocol):
    """The protocol a listener creates per connection: it asks the admission and then hands
    the transport to the SMTP session it was given (asyncio's `set_protocol`), or writes the
    refusal and closes. A refused connection costs no SMTP object."""

    def __init__(
        self, admission: Admission, trusted: dict[str, str], make: Callable[[], Any]
    ) -> None:
        self._admission, self._trusted, self._make = admission, trusted, make

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else str(peer)
        admitted = self._admission.admit(address, address in self._trusted, self._make)
        if isinstance(admitted, str):
            log.debug("refused %s: %s", address, admitted)
            transport.write(admitted.encode() + b"\r\n")  # type: ignore[attr-defined]
            transport.close()
            return
        transport.set_protocol(admitted)  # type: ignore[arg-type]
        admitted.connection_made(transport)  # type: ignore[attr-defined]


class MemoryGate:
    """Messages that arrived in a spool file are read back into memory to be prepared, signed
    and stored (about twice their size for a moment). This lets them in while their sizes add
    up to at most `budget` bytes, and one at a time beyond it, so 50 parallel 25 MB messages
    wait on disk instead of all being in RAM at once.

    Memory the messages used goes back to the system: glibc's malloc serves large blocks with
    mmap only up to a threshold it raises after each free (then keeps them in its heaps), so
    the threshold is fixed at 1 MiB (mallopt M_MMAP_THRESHOLD), and the heaps are trimmed
    (malloc_trim) whenever the last big message is through."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        # First come, first served: a large message waiting for room is not passed for good
        # by a stream of small ones that each fit (review: a 25 MB delivery waited forever).
        self._queue: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        _LIBC.mmap_above(1 << 20)

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        if not self._queue and self._fits(size):
            self.used += size
        else:
            await self._wait_turn(size)
        try:
            yield
        finally:
            self._release(size)

    async def _wait_turn(self, size: int) -> None:
        entry = (size, asyncio.get_running_loop().create_future())
        self._queue.append(entry)
        try:
            await entry[1]
        except BaseException:  # cancelled while waiting, or just after its turn came
            if entry[1].done() and not entry[1].cancelled():
                self._release(size)
            else:
                with contextlib.suppress(ValueError):
                    self._queue.remove(entry)
                self._grant()
            raise

    def _fits(self, size: int) -> bool:
        return not self.used or self.used + size <= self.budget

    def _grant(self) -> None:
        while self._queue and self._fits(self._queue[0][0]):
            size, turn = self._queue.popleft()
            if not turn.done():
                self.used += size
                turn.set_result(None)

    def _release(self, size: int) -> None:
        self.used -= size
        self._grant()
        if not self.used:
            _LIBC.trim()


class _Glibc:
    """mallopt and malloc_trim where the C library is glibc; nothing elsewhere."""

    _M_MMAP_THRESHOLD = -3

    def __init__(self) -> None:
        self._libc = None
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None)
            if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
                self._libc = libc

    def mmap_above(self, size: int) -> None:
        if self._libc is not None:
            self._libc.mallopt(self._M_MMAP_THRESHOLD, size)

    def trim(self) -> None:
        if self._libc is not None:
            self._libc.malloc_trim(0)


_LIBC = _Glibc()
