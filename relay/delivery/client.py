"""Send a lane's batch over one SMTP connection (aiosmtplib), trying MX hosts in order.

Every recipient is its own transaction with its own signed bounce address (MAIL FROM), so a
bounce maps to exactly one recipient. TLS is opportunistic (starttls.py): STARTTLS when
offered, no certificate check, in clear when it does not work (RFC 7435), unless require_tls
says to defer instead. A server that hangs up costs only the transaction it happened in: the
rest of the batch goes on over a new connection to the same address while each connection gets
further than the one before. With a relayhost (relayhost.py), its TLS mode and AUTH apply,
and a relayhost that refuses the session, the AUTH or the sender defers the mail with its
words (it says nothing about the recipients).
"""

import asyncio
import contextlib
import inspect
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol
from aiosmtplib.response import SMTPResponse

from relay.delivery.outcome import Attempt, Reply
from relay.delivery.relayhost import Relayhost
from relay.delivery.routing import MxHost
from relay.delivery.starttls import (
    OPPORTUNISTIC,
    HandshakeFailed,
    NoTlsMemory,
    refused_in_clear,
    secure,
)

log = logging.getLogger(__name__)
Report = Callable[["Envelope", Attempt], Awaitable[None]]


# The message as sent, in memory only while its transaction runs: the scheduler's loader
# takes the message's size from the worker's memory budget first and reads large ones in a
# thread (scheduler.py); `loaded` is one for bytes in hand.
Loader = Callable[[], contextlib.AbstractAsyncContextManager[bytes]]


@dataclass(frozen=True)
class Envelope:
    recipient_id: int
    mail_from: str
    rcpt_to: str
    load: Loader


def loaded(data: bytes) -> Loader:
    """A loader for a message already in memory."""

    @contextlib.asynccontextmanager
    async def load() -> AsyncIterator[bytes]:
        yield data

    return load


@dataclass(frozen=True)
class ClientSettings:
    helo_name: str
    port: int
    connect_timeout: float
    command_timeout: float
    data_timeout: float
    require_tls: bool
    relayhost: Relayhost | None = None
    # Addresses whose TLS handshake failed lately: sent to in clear (one per worker).
    no_tls: NoTlsMemory = field(default_factory=NoTlsMemory, compare=False, repr=False)


class _Broken(Exception):
    """The connection broke during a transaction; `charged` when the server had accepted its
    MAIL (the break belongs to this envelope, not to the one before)."""

    def __init__(self, step: str, charged: bool) -> None:
        super().__init__(step)
        self.step, self.charged = step, charged


# The aiosmtplib methods _data() uses instead of data(): public ones, checked at import so an
# aiosmtplib that changed them stops the relay at start instead of failing in a delivery lane.
_USED = {
    aiosmtplib.SMTP.execute_command: ["self", "args", "timeout"],
    SMTPProtocol.write: ["self", "data"],
    SMTPProtocol.read_response: ["self", "timeout"],
}
for _method, _names in _USED.items():
    if list(inspect.signature(_method).parameters) != _names:
        raise ImportError(f"aiosmtplib {_method.__qualname__}: expected parameters {_names}")


async def deliver_batch(
    hosts: list[MxHost], envelopes: list[Envelope], settings: ClientSettings, report: Report
) -> Reply | None:
    """Deliver every envelope or report why not; falls back to the next MX host when one
    cannot be reached (RFC 5321 5.1). Each result is reported as soon as it is known.
    Returns the reason when no host took a session at all (the destination is unreachable:
    its other mail meets the same), else None."""
    pending = list(envelopes)
    last = Reply.synthetic_reply(451, "4.4.1", "no MX host could be reached")
    reached = False
    for host in hosts:
        for address in host.addresses:
            pending, last, opened = await _deliver_to(address, host.name, pending, settings, report)
            reached = reached or opened
            if not pending:
                return None
    for envelope in pending:
        await report(envelope, Attempt(last, None, False, 0))
    return None if reached else last


async def _deliver_to(
    address: str,
    name: str,
    pending: list[Envelope],
    settings: ClientSettings,
    report: Report,
) -> tuple[list[Envelope], Reply, bool]:
    """Send over connections to one address: a new one after a hang-up, as long as each one
    got further than the one before (a server that gives up at once ends it; Postfix gives
    every delivery its own request). Returns what is left, why, and whether a session was
    opened."""
    opened = False
    while True:
        client = await _open(address, name, settings)
        if isinstance(client, Reply):
            return pending, _session_refused(client, f"{name} [{address}]"), opened
        opened = True
        before = len(pending)
        pending = await _send_all(client, name, pending, settings, report)
        if not pending or len(pending) == before:
            lost = Reply.synthetic_reply(451, "4.4.2", f"{name}: connection lost")
            return pending, lost, opened


def _session_refused(reply: Reply, where: str) -> Reply:
    """A host that would not start a session (no connection, a 5xx greeting or EHLO) said
    nothing final about the recipients: another MX, or a later try, may take the mail. As
    Postfix's smtp_skip_5xx_greeting: the next host is tried, and with none left the
    recipients are deferred (until max_age), never bounced for it."""
    status = "4" + reply.status[1:] if reply.status else "4.4.1"
    code = 451 if reply.code >= 500 else reply.code
    said = str(reply)  # the server's code, enhanced status and words; ours as they are
    return Reply.synthetic_reply(code, status, f"{where}: {said}")


async def _open(
    address: str, server_name: str, settings: ClientSettings
) -> aiosmtplib.SMTP | Reply:
    """A ready session; after a failed TLS handshake (where clear is allowed) a new one
    without STARTTLS, and the address is sent to in clear for a while (starttls.py)."""
    try_tls = not settings.no_tls.holds(address)
    try:
        return await _connect(address, server_name, settings, try_tls)
    except HandshakeFailed as exc:
        log.warning("%s [%s]: %s; sending in clear", server_name, address, exc)
        settings.no_tls.remember(address)
        return await _connect(address, server_name, settings, try_tls=False)


async def _connect(
    address: str, server_name: str, settings: ClientSettings, try_tls: bool
) -> aiosmtplib.SMTP | Reply:
    relayhost = settings.relayhost
    wrapper = relayhost is not None and relayhost.tls == "wrapper"
    client = aiosmtplib.SMTP(
        hostname=address,
        port=relayhost.port if relayhost else settings.port,
        local_hostname=settings.helo_name,
        timeout=settings.command_timeout,
        start_tls=False,
        use_tls=wrapper,  # RFC 8314 implicit TLS (port 465)
        tls_context=OPPORTUNISTIC if wrapper else None,
    )
    try:
        await client.connect(timeout=settings.connect_timeout)
        await client.ehlo()
        refused = None
        if not wrapper:
            refused = await secure(client, server_name, relayhost, settings.require_tls, try_tls)
        if refused is None and relayhost is not None and relayhost.login is not None:
            await client.login(*relayhost.login)
    except HandshakeFailed:
        client.close()
        raise
    except aiosmtplib.SMTPConnectTimeoutError:
        return Reply.synthetic_reply(451, "4.4.2", "connection timed out")
    except aiosmtplib.SMTPConnectResponseError as exc:  # a greeting other than 220
        client.close()
        return Reply.from_server(exc.code, exc.message)
    except aiosmtplib.SMTPConnectError as exc:
        return Reply.synthetic_reply(451, "4.4.1", f"connection refused ({exc})")
    except aiosmtplib.SMTPResponseException as exc:  # EHLO, STARTTLS or AUTH refused
        client.close()
        return Reply.from_server(exc.code, exc.message)
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        client.close()
        return Reply.synthetic_reply(
            451, "4.7.0" if "SSL" in repr(exc) else "4.4.2", f"{type(exc).__name__}: {exc}"
        )
    if refused is not None:
        client.close()
        return refused
    return client


async def _send_all(
    client: aiosmtplib.SMTP,
    mx_name: str,
    envelopes: list[Envelope],
    settings: ClientSettings,
    report: Report,
) -> list[Envelope]:
    """Send on one connection; return the envelopes left when the connection broke.

    Results are recorded while the next message is already being sent (the connection does
    not wait for each commit); all of them are committed before this returns. A crash in
    between only means a message is sent again: delivery is at least once."""
    tls = client.get_transport_info("sslcontext") is not None
    offered_tls = client.supports_extension("starttls")
    recording: list[asyncio.Task] = []

    def record(envelope: Envelope, reply: Reply, started: float) -> None:
        if refused_in_clear(reply, offered_tls, tls):
            settings.no_tls.forget(client.hostname or "")
            reply = Reply.synthetic_reply(
                451, "4.7.0", f"{mx_name} wants TLS and refused the mail in clear: {reply}"
            )
        duration = int((time.monotonic() - started) * 1000)
        attempt = Attempt(reply, mx_name, tls, duration)
        recording.append(asyncio.ensure_future(report(envelope, attempt)))

    try:
        for index, envelope in enumerate(envelopes):
            started = time.monotonic()
            try:
                reply, started = await _transaction(client, mx_name, envelope, settings)
            except _Broken as broken:
                if not broken.charged:  # at MAIL: the connection was gone already
                    return envelopes[index:]
                # The server took part in this transaction and then went away (a crash
                # in DATA, say): this envelope's try, deferred; the rest go on.
                lost = f"{mx_name}: connection lost during {broken.step}"
                record(envelope, Reply.synthetic_reply(451, "4.4.2", lost), started)
                return envelopes[index + 1 :]
            record(envelope, reply, started)
        return []
    finally:
        try:
            await asyncio.wait_for(client.quit(), timeout=10)
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            client.close()
        if recording:
            await asyncio.gather(*recording)


async def _transaction(
    client: aiosmtplib.SMTP, mx_name: str, envelope: Envelope, settings: ClientSettings
) -> tuple[Reply, float]:
    """The reply, and when the transaction began: once the message was in memory (waiting
    for the memory budget is no part of the attempt's duration)."""
    async with envelope.load() as data:
        began = time.monotonic()
        return await _send(client, mx_name, envelope, settings, data), began


async def _send(
    client: aiosmtplib.SMTP,
    mx_name: str,
    envelope: Envelope,
    settings: ClientSettings,
    data: bytes,
) -> Reply:
    parameters = mail_parameters(data, envelope, client.supports_extension, mx_name)
    if isinstance(parameters, Reply):
        return parameters
    command = "MAIL"
    try:
        await _command(client, b"MAIL FROM:<%s>%s" % (envelope.mail_from.encode(), parameters))
        command = "RCPT"
        await _command(client, b"RCPT TO:<%s>" % envelope.rcpt_to.encode("utf-8"))
        command = "DATA"
        # RFC 5321 4.5.3.2.6: wait up to 10 minutes for the reply to the final dot; giving up
        # earlier makes a slow server's accepted message a duplicate on the next try.
        response = await _data(client, data, settings.data_timeout)
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code != -1:
            await _reset(client)
            reply = Reply.from_server(exc.code, exc.message, command)
            if settings.relayhost is not None and command == "MAIL":
                # The relayhost refuses our sender: a setting to fix, not a dead recipient.
                return _session_refused(reply, f"the relayhost {settings.relayhost}")
            return reply
        client.close()
        raise _Broken(command, charged=command != "MAIL") from exc
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        client.close()  # a reply given up on would pair with the next command
        raise _Broken(command, charged=command != "MAIL") from exc
    return Reply.from_server(response.code, response.message, command)


def mail_parameters(
    data: bytes, envelope: Envelope, announces: Callable[[str], bool], server: str
) -> bytes | Reply:
    """The MAIL FROM parameters this message needs from this server, or why it cannot go there
    (a permanent finding of the relay's own: another try would meet the same server).

    The message was made 7-bit before signing (relay.prepare.wire); 8-bit is left only where
    that was impossible. RFC 6152 2: BODY=8BITMIME for 8-bit content, only to a server that
    announces 8BITMIME. RFC 6531 3.4: SMTPUTF8 for a UTF-8 address (envelope or header), only
    to a server that announces it, else the recipient fails (RFC 6531 3.7.1 lets no client
    downgrade a UTF-8 address; a Unicode domain was already sent as its A-label)."""
    if data.isascii() and envelope.rcpt_to.isascii():  # nearly every message: one scan in C
        return b""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    utf8 = not head.isascii() or not envelope.rcpt_to.isascii()
    eight_bit = not data.isascii()
    where = f"the receiving server {server}"
    if utf8 and not announces("smtputf8"):
        what = "a UTF-8 address in the message's header"
        if not envelope.rcpt_to.isascii():
            what = f"the address {envelope.rcpt_to}"
        return Reply.synthetic_reply(
            550, "5.6.7", f"{where} does not announce SMTPUTF8, which {what} needs (RFC 6531)"
        )
    if eight_bit and not announces("8bitmime"):
        return Reply.synthetic_reply(
            550,
            "5.6.3",
            f"{where} does not announce 8BITMIME, and the message has 8-bit content the relay"
            " could not re-encode (RFC 6152)",
        )
    return (b" BODY=8BITMIME" if eight_bit else b"") + (b" SMTPUTF8" if utf8 else b"")


async def _command(client: aiosmtplib.SMTP, line: bytes) -> None:
    """MAIL/RCPT with addresses the relay already checked and normalised (aiosmtplib's
    mail()/rcpt() parse and quote them again with the `email` package, per message)."""
    response = await client.execute_command(line)
    if response.code != 250:
        raise aiosmtplib.SMTPResponseException(response.code, response.message)


async def _data(client: aiosmtplib.SMTP, data: bytes, timeout: float) -> SMTPResponse:
    """DATA with our stored bytes, on aiosmtplib's public protocol methods.

    aiosmtplib's data() rewrites line endings and dot-stuffs with regexes over the whole
    message (a quarter of the sending CPU at 50 KB, and three copies of a 25 MB message). The
    stored message is CRLF-clean (submission refused bare CR/LF), so RFC 5321 4.5.2
    transparency is one replace, made only when some line starts with a dot, and the final
    dot is written on its own instead of being appended to a copy.
    """
    start = await client.execute_command(b"DATA", timeout=timeout)
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    if data.startswith(b"."):
        protocol.write(b".")
    protocol.write(data.replace(b"\r\n.", b"\r\n..") if b"\r\n." in data else data)
    protocol.write(b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n")
    try:
        # Awaited right after the writes: the reply cannot arrive before read_response()
        # marks it as expected (no other task runs in between).
        response = await protocol.read_response(timeout=timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()  # as data() does: a reply given up on would pair with the next command
        raise
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


async def _reset(client: aiosmtplib.SMTP) -> None:
    # A server may hang up right after its refusal (or with 421): the refusal is the answer
    # for this envelope all the same; the next one then meets the closed connection.
    with contextlib.suppress(aiosmtplib.SMTPException):
        await client.rset()
