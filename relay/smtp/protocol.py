"""aiosmtpd's SMTP with our DATA reader, session cap and error replies.

aiosmtpd reads DATA one line at a time (one readuntil per line dominates for 50 KB messages)
and lets bare CR/LF through into the content. Our reader takes the data in large pieces, only
ever ends it at CRLF.CRLF (RFC 5321 4.1.1.4), and smtp_DATA refuses bare CR or LF, which
defeats SMTP smuggling ("\\n.\\n", "\\r\\n.\\r", "\\n.\\r\\n" are never an end of data).
"""

import asyncio
import inspect
import logging
import re
import types

import aiosmtpd.smtp
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from relay.smtp import replies

log = logging.getLogger(__name__)
_DOT_CRLF = b".\r\n"
# RFC 5321 4.1.2 Path in its everyday form, "<local@domain>" or "<>", followed by parameters.
_SIMPLE_PATH = re.compile(r"\s*<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)?)>(.*)")
_DATA_READ_LIMIT = 1 << 20
_CLASS_DIR: dict[type, list[str]] = {}


class _AuthMemberCache:
    """aiosmtpd builds its AUTH mechanism table with `inspect.getmembers()` of the protocol
    and the handler for every connection, which reads every attribute (properties included):
    a sixth of a worker's CPU with one connection per message. It keeps only names starting
    with "auth_", so for our classes we return exactly those, looked up once per class."""

    def __init__(self, real: types.ModuleType, owners: tuple[type, ...]) -> None:
        self._real, self._owners = real, owners
        self._names: dict[type, list[str]] = {}

    def getmembers(self, obj: object, predicate: object = None) -> list[tuple[str, object]]:
        if predicate is not None or not isinstance(obj, self._owners):
            return self._real.getmembers(obj, predicate)  # type: ignore[arg-type]
        names = self._names.get(type(obj))
        if names is None:
            names = self._names[type(obj)] = [n for n in dir(type(obj)) if n.startswith("auth_")]
        return [(name, getattr(obj, name)) for name in names]

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


class _Deferred:
    """Credentials aiosmtpd decoded, waiting for the asynchronous check (see RelaySMTP)."""

    def __init__(self, credentials: LoginPassword) -> None:
        self.credentials = credentials


class SessionLimiter:
    """A cap on concurrent sessions over the listeners that share it (aiosmtpd holds
    messages in memory): the submission listeners share one, the bounce listeners another,
    so a flood on port 25 cannot take the shops' sessions."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    def acquire(self) -> bool:
        if self.active >= self.limit:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        self.active -= 1


class RelaySMTP(SMTP):
    def __init__(
        self,
        handler: object,
        *,
        limiter: SessionLimiter,
        refuse_bare_line_endings: bool = True,
        **kwargs: object,
    ) -> None:
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]
        self._limiter = limiter
        # Submission refuses bare CR/LF (it signs and relays the data); the bounce listener
        # takes them, since losing a report from a sloppy MTA is worse than a stray LF.
        self._refuse_bare = refuse_bare_line_endings

    def __dir__(self) -> list[str]:
        # aiosmtpd's __init__ builds its command table from dir(self) on every connection; the
        # smtp_* methods it looks for are the class's, so list the class's names once.
        names = _CLASS_DIR.get(type(self))
        if names is None:
            names = _CLASS_DIR[type(self)] = sorted(set(dir(type(self))))
        return names

    async def _handle_client(self) -> None:
        if not self._limiter.acquire():
            await self.push(replies.TOO_MANY_SESSIONS)
            self.transport.close()  # type: ignore[union-attr]
            return
        try:
            await super()._handle_client()
        finally:
            self._limiter.release()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # aiosmtpd starts a new session here, at connect and again after STARTTLS (RFC 3207
        # 4.2): the handler's session_started hook (trusted clients) runs for both.
        super().connection_made(transport)
        hook = getattr(self.event_handler, "session_started", None)
        if hook is not None:
            hook(self)

    async def smtp_AUTH(self, arg: str) -> None:
        throttle = getattr(self.event_handler, "before_auth", None)
        if throttle is not None:
            await throttle(self)
        await super().smtp_AUTH(arg)

    # aiosmtpd's auth_PLAIN and auth_LOGIN decode the credentials (challenges included) and
    # then call the authenticator synchronously, inside the event loop. An authenticator with
    # an `authenticate` coroutine (ours: scrypt in a thread) gets them afterwards instead:
    # _authenticate hands them back unchecked, and the wrappers below await the check.

    def _authenticate(self, mechanism: str, auth_data: object) -> AuthResult:
        if hasattr(self._authenticator, "authenticate") and isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False, auth_data=_Deferred(auth_data))
        return super()._authenticate(mechanism, auth_data)

    async def auth_PLAIN(self, _: object, args: list[str]) -> AuthResult:
        return await self._finish_auth(await super().auth_PLAIN(_, args), "PLAIN")

    async def auth_LOGIN(self, _: object, args: list[str]) -> AuthResult:
        return await self._finish_auth(await super().auth_LOGIN(_, args), "LOGIN")

    async def _finish_auth(self, result: AuthResult, mechanism: str) -> AuthResult:
        if not isinstance(result.auth_data, _Deferred):
            return result  # a decoding error, already answered, or a cancelled exchange
        assert self.session is not None
        check = self._authenticator.authenticate  # type: ignore[union-attr]
        return await check(self.session.peer, result.auth_data.credentials, mechanism)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd parses MAIL/RCPT paths with the `email` header parser (a large share of a
        session's CPU); the everyday form is matched directly, anything else goes to it."""
        match = _SIMPLE_PATH.fullmatch(arg)
        if match is None:
            return super()._getaddr(arg)
        # The same results as aiosmtpd's parser, quirks included: the null path is "<>" and
        # keeps the space before its parameters; an address's parameters are left-stripped.
        if not match.group(1):
            return "<>", match.group(2)
        address, rest = match.group(1), match.group(2).lstrip()
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

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
        data, too_big = await self._read_data()
        if too_big:
            await self.push(replies.TOO_BIG.format(limit=self.data_size_limit))
        elif self._refuse_bare and has_bare_line_ending(data):
            await self.push(replies.BARE_LINE_ENDING)
        else:
            self.envelope.content = self.envelope.original_content = data
            del data  # the handler drops the envelope's copies early (large messages, memory)
            try:
                status = await self._call_handler_hook("DATA")
            except Exception as error:  # answered 451, never aiosmtpd's 500 with the text
                status = await self.handle_exception(error)
            self._set_post_data_state()
            await self.push(status)
            return
        self._set_post_data_state()

    async def _read_data(self) -> tuple[bytes, bool]:
        # aiosmtpd's reader limit is one command line (~1 KB): searching the data for its end
        # would then stop with LimitOverrunError every KB. Raise it for the data only.
        reader = self._reader
        saved = getattr(reader, "_limit", None)
        if saved is not None:
            reader._limit = max(saved, _DATA_READ_LIMIT)
        try:
            return await read_data(reader, self.data_size_limit)
        finally:
            if saved is not None:
                reader._limit = saved


class HandlerBase:
    """Marker for our aiosmtpd handlers (see _AuthMemberCache)."""


# Patched once, for our protocol and handler classes only; anything else sees `inspect`.
aiosmtpd.smtp.inspect = _AuthMemberCache(inspect, (RelaySMTP, HandlerBase))  # type: ignore[assignment]


async def read_data(reader: asyncio.StreamReader, limit: int | None) -> tuple[bytes, bool]:
    """Read up to the CRLF.CRLF end of data; return (unstuffed data, exceeded the limit).

    Searches for ".\\r\\n" and checks that a CRLF (or the start of the data) comes before it,
    so the preceding CRLF is always already in our buffer and never missed across reads.
    """
    buf = bytearray()
    too_big = False
    while True:
        try:
            piece = await reader.readuntil(_DOT_CRLF)
        except asyncio.LimitOverrunError as exc:
            piece = await reader.readexactly(exc.consumed)
            buf += piece
        else:
            buf += piece
            dot = len(buf) - 3  # where the "." of ".\r\n" sits
            if dot == 0 or buf[dot - 2 : dot] == b"\r\n":
                del buf[dot:]
                break
        if limit and len(buf) > limit + 5:
            too_big = True
            del buf[:-2]  # keep the last CRLF so the end of data is still recognised
    if too_big:
        return b"", True
    # RFC 5321 4.5.2: remove the leading period that transparency added to a line. In place
    # where possible: a 25 MB message must not exist three times over.
    if buf.startswith(b"."):
        del buf[0]
    data = bytes(buf.replace(b"\r\n.", b"\r\n")) if b"\r\n." in buf else bytes(buf)
    del buf[:]
    return data, bool(limit and len(data) > limit)


def has_bare_line_ending(data: bytes) -> bool:
    crlf = data.count(b"\r\n")
    return crlf != data.count(b"\r") or crlf != data.count(b"\n")
