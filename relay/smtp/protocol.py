"""aiosmtpd's SMTP with our admission, DATA reader and replies.

Public aiosmtpd API where it has one: handler hooks, handler-level `auth_*` mechanisms
(relay/smtp/mechanisms.py), `push`, `challenge_auth`, the `smtp_<VERB>` command methods a
subclass may override, and asyncio's protocol methods (`connection_made`, `connection_lost`);
admission happens before the session exists (relay/smtp/admission.py, Gate).
Two private paths remain, pinned (pyproject.toml) and checked at import (`_PINNED`):
`smtp_DATA` reads `self._reader`, because aiosmtpd reads DATA one line at a time into memory
and we spool it (relay/smtp/data.py), checking line length, bare line endings and the end of
data ourselves; and `_getaddr` parses the everyday "<local@domain>" path without the `email`
header parser (a tenth of a session's CPU). bench/README.md has what each saves.
"""

import asyncio
import inspect
import logging
import re
from typing import Any

import aiosmtpd
from aiosmtpd.smtp import SMTP, Envelope

from relay.smtp import replies
from relay.smtp.admission import Admission, MemoryGate
from relay.smtp.data import DataPolicy, Spool, receive

log = logging.getLogger(__name__)

# aiosmtpd internals the fast path relies on: the version tested, and what each name must be.
# A newer aiosmtpd fails here, at import, instead of silently changing how DATA is read
# (tests/test_smtp_internals.py checks the same and that our reader is the one that runs).
AIOSMTPD_VERSION = "1.4.6"
_PINNED = {
    "smtp_DATA": "(self, arg: str) -> None",
    "check_helo_needed": "(self, helo: str = 'HELO') -> bool",
    "check_auth_needed": "(self, caller_method: str) -> bool",
    "smtp_AUTH": "(self, arg: str) -> None",
    "push": "(self, status: ~AnyStr)",
    "connection_made": "(self, transport: asyncio.transports.BaseTransport) -> None",
    "connection_lost": "(self, error: Optional[Exception]) -> None",
    "_cb_client_connected": (
        "(self, reader: asyncio.streams.StreamReader, writer: asyncio.streams.StreamWriter)"
    ),
    "_getaddr": "(self, arg: str) -> Tuple[Optional[str], Optional[str]]",
}
# RFC 5321 4.1.2 Path in its everyday form, "<local@domain>" or "<>", followed by parameters.
_SIMPLE_PATH = re.compile(r"\s*<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)?)>(.*)")


def check_pinned() -> None:
    """Raise ImportError unless aiosmtpd is the version whose internals we use."""
    if aiosmtpd.__version__ != AIOSMTPD_VERSION:
        raise ImportError(
            f"relay needs aiosmtpd {AIOSMTPD_VERSION} (its DATA reader relies on aiosmtpd's"
            f" internals); found {aiosmtpd.__version__}"
        )
    for name, expected in _PINNED.items():
        found = str(inspect.signature(getattr(SMTP, name)))
        if found != expected:
            raise ImportError(f"aiosmtpd SMTP.{name}{found}: expected {expected}")
    if "self._reader = reader" not in inspect.getsource(SMTP._cb_client_connected):
        raise ImportError("aiosmtpd no longer keeps its stream reader in SMTP._reader")


check_pinned()


_NAMES: dict[tuple[type, tuple[str, ...]], list[str]] = {}


def _names(cls: type, prefixes: tuple[str, ...]) -> list[str]:
    key = (cls, prefixes)
    if key not in _NAMES:
        _NAMES[key] = [name for name in dir(cls) if name.startswith(prefixes)]
    return _NAMES[key]


class RelaySMTP(SMTP):
    def __dir__(self) -> list[str]:
        # aiosmtpd builds its command and AUTH tables for every connection from dir(self) and
        # inspect.getmembers(self), which reads every attribute: three quarters of a
        # session's set-up. They look only at smtp_* and auth_* names; those are what we list.
        return _names(type(self), ("smtp_", "auth_"))

    def __init__(
        self,
        handler: object,
        *,
        admission: Admission,
        data: DataPolicy,
        memory: MemoryGate | None = None,
        trusted: dict[str, str] | None = None,
        offers_auth: bool = True,
        content_as_bytes: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._admission = admission
        self._data = data
        self._memory = memory
        self._trusted = trusted or {}
        self._offers_auth = offers_auth
        # The bounce listener's handler stores the raw bytes; submission prepares from the spool.
        self._content_as_bytes = content_as_bytes
        self._deadline: asyncio.TimerHandle | None = None

    # -- admission (relay.smtp.admission.Gate admitted us): trust, pre-AUTH deadline ----------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called by the Gate at connect, and again by aiosmtpd once STARTTLS is done (a new
        # session, RFC 3207 4.2): trust holds for both, the deadline runs from the connect.
        first = self.transport is None and self._deadline is None
        super().connection_made(transport)
        assert self.session is not None
        peer = self.session.peer
        shop = self._trusted.get(peer[0] if isinstance(peer, tuple) else str(peer))
        if shop is not None:
            self.session.authenticated = True
            self.session.auth_data = shop
        elif first and self._admission.limits.auth_timeout:
            timeout = self._admission.limits.auth_timeout
            self._deadline = self.loop.call_later(timeout, self._auth_expired, timeout)

    def connection_lost(self, error: Exception | None) -> None:
        self._admission.release(self)
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(error)

    def eof_received(self) -> bool:
        # aiosmtpd cancels its session task here and leaves closing to that task, which never
        # runs if it had not started yet: a client that connects and closes at once (a port
        # probe) then kept its transport, and its place in the admission, for good (seen on
        # uvloop, where the EOF can arrive in the same loop pass as the connect). The client
        # has finished sending, so the session is over: False closes the transport (after
        # anything still being written).
        super().eof_received()
        return False

    def close_with(self, reply: str) -> None:
        """End the session now with a 421 (RFC 5321 3.8: the server may close with 421)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(reply.encode() + b"\r\n")  # type: ignore[attr-defined]
            transport.close()

    def _auth_expired(self, timeout: float) -> None:
        if self.session is None or not self.session.authenticated:
            log.debug("closing %r: no AUTH within %gs", self.session and self.session.peer, timeout)
            self._admission.release(self)
            self.close_with(replies.AUTH_TIMEOUT.format(seconds=timeout))

    async def smtp_AUTH(self, arg: str) -> None:
        if not self._offers_auth:
            await self.push(replies.NO_AUTH_HERE)
            return
        throttle = getattr(self.event_handler, "before_auth", None)
        if throttle is not None:
            await throttle(self)
        await super().smtp_AUTH(arg)
        if self.session is not None and self.session.authenticated:
            self._admission.authenticated(self)
            if self._deadline is not None:
                self._deadline.cancel()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """MAIL/RCPT paths: the everyday form matched directly, anything else to aiosmtpd's
        parser. The same results as aiosmtpd's, quirks included: the null path is "<>" and
        keeps the space before its parameters; an address's parameters are left-stripped."""
        match = _SIMPLE_PATH.fullmatch(arg)
        if match is None:
            return super()._getaddr(arg)
        if not match.group(1):
            return "<>", match.group(2)
        address, rest = match.group(1), match.group(2).lstrip()
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            status = replies.fit(status)
        await super().push(status)

    # -- DATA ---------------------------------------------------------------------------------

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push(replies.NEED_RCPT)
            return
        if arg:
            await self.push(replies.DATA_SYNTAX)
            return
        await self.push(replies.START_DATA)
        spool, problem = await receive(self._reader, self._data)  # type: ignore[attr-defined]
        try:
            status = problem or await self._hand_over(spool)
        finally:
            spool.close()
            self.envelope = Envelope()  # RFC 5321 4.1.1.4: the transaction is over either way
        await self.push(status)

    async def _hand_over(self, spool: Spool) -> str:
        if self._memory is None or not spool.on_disk:
            return await self._call_data_hook(spool)
        # Read back from disk: wait until the other big messages leave room in memory.
        async with self._memory.hold(spool.size):
            return await self._call_data_hook(spool)

    async def _call_data_hook(self, spool: Spool) -> str:
        assert self.envelope is not None
        content: bytes | Spool = spool.to_bytes() if self._content_as_bytes else spool
        self.envelope.content = self.envelope.original_content = content  # type: ignore[assignment]
        del content
        try:
            return await self.event_handler.handle_DATA(self, self.session, self.envelope)
        except Exception as error:  # answered 451, never aiosmtpd's 500 with the text
            return await self.handle_exception(error)


class HandlerBase:
    """Base of our aiosmtpd handlers."""

    def __dir__(self) -> list[str]:
        # As RelaySMTP.__dir__: aiosmtpd reads handle_* hooks and auth_* mechanisms only.
        return _names(type(self), ("handle_", "auth_"))


class NoAuthHandler(HandlerBase):
    """Base of a handler whose listener has no accounts (the bounce listener): EHLO offers no
    AUTH, before or after STARTTLS (RelaySMTP(offers_auth=False) answers AUTH with 502)."""

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handler's EHLO hook
        return [line for line in responses if not line[4:].startswith("AUTH")]
