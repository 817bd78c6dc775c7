"""STARTTLS on a delivery session (RFC 3207), opportunistic unless a setting requires it.

Opportunistic TLS (RFC 7435): no certificate check, and TLS that does not work is no reason to
keep the mail. A refusal of STARTTLS (`454 4.7.0 TLS not available`) leaves the session as it
was: the mail goes on in clear on it. A failed handshake (a server that speaks only TLS 1.0, one
that closes the connection or answers garbage) kills the connection: the caller connects again
without STARTTLS, and this address is remembered for NO_TLS_FOR so the next sessions do not pay
the failed handshake again (Postfix's `smtp_tls_security_level = may`; KumoMTA's
`opportunistic_tls_reconnect_on_failed_handshake`). Where TLS is required (`require_tls`, a
relayhost's `encrypt`/`verify`, any relayhost AUTH) nothing goes in clear: the mail is deferred.
"""

import logging
import ssl
import time

import aiosmtplib

from relay.delivery.outcome import Reply
from relay.delivery.relayhost import Relayhost

log = logging.getLogger(__name__)
NO_TLS_FOR = 600.0  # seconds an address whose handshake failed is sent to in clear
_FORGET_AT = 10_000  # addresses remembered before expired ones are dropped


def _opportunistic_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


OPPORTUNISTIC = _opportunistic_context()


class HandshakeFailed(Exception):
    """STARTTLS was accepted, the TLS handshake then failed: the connection is lost."""


class NoTlsMemory:
    """Addresses whose TLS handshake failed lately (one worker's memory)."""

    def __init__(self, ttl: float = NO_TLS_FOR) -> None:
        self.ttl = ttl
        self._until: dict[str, float] = {}

    def remember(self, address: str) -> None:
        now = time.monotonic()
        if len(self._until) >= _FORGET_AT:
            self._until = {a: t for a, t in self._until.items() if t > now}
        self._until[address] = now + self.ttl

    def forget(self, address: str) -> None:
        self._until.pop(address, None)

    def holds(self, address: str) -> bool:
        until = self._until.get(address)
        if until is not None and until <= time.monotonic():
            del self._until[address]
            return False
        return until is not None


def clear_allowed(require_tls: bool, relayhost: Relayhost | None) -> bool:
    """Whether mail may go in clear when TLS does not work out."""
    if require_tls:
        return False
    return relayhost is None or (not relayhost.tls_required and relayhost.login is None)


def refused_in_clear(reply: Reply, offered_tls: bool, encrypted: bool) -> bool:
    """A server that announced STARTTLS refuses our mail because it came in clear (`530 5.7.0
    Must issue a STARTTLS command first`, any 5.7.x at MAIL or RCPT): it wants TLS, and our
    fallback after a failed handshake (maybe a passing glitch) must not bounce the customer's
    mail for it. The caller defers the recipient and tries TLS again next time."""
    if encrypted or not offered_tls or reply.code < 500 or reply.command not in ("MAIL", "RCPT"):
        return False
    return reply.code == 530 or (reply.status or "").startswith("5.7.")


async def secure(
    client: aiosmtplib.SMTP,
    server_name: str,
    relayhost: Relayhost | None,
    require_tls: bool,
    try_tls: bool = True,
) -> Reply | None:
    """STARTTLS when offered (and `try_tls`); None when the session may go on (encrypted, or
    in clear where that is allowed), else a Reply saying why not. Raises HandshakeFailed
    when the handshake failed and clear is allowed (the caller connects again)."""
    in_clear = clear_allowed(require_tls, relayhost)
    if client.supports_extension("starttls") and (try_tls or not in_clear):
        verify = relayhost is not None and relayhost.tls == "verify"
        context = ssl.create_default_context() if verify else OPPORTUNISTIC
        try:
            await client.starttls(server_hostname=server_name, tls_context=context)
        except aiosmtplib.SMTPResponseException as exc:  # 454: TLS not available
            if not in_clear or exc.code == 421:  # 421: the server closes the session
                raise
            log.info("%s refused STARTTLS (%s %s): sending in clear", server_name, exc.code, exc)
            return None  # the session is as before STARTTLS (RFC 3207 4)
        except (ssl.SSLError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                OSError) as exc:  # fmt: skip
            failed = f"the TLS handshake failed ({type(exc).__name__}: {exc})"
            if not in_clear:
                return Reply.synthetic_reply(451, "4.7.0", f"{failed}; TLS is required here")
            raise HandshakeFailed(failed) from exc
        # RFC 3207 4.2: what EHLO said before TLS is forgotten (aiosmtplib clears it); ask
        # again, or MAIL goes out un-greeted (Gmail: "503 5.5.1 EHLO/HELO first") and without
        # knowing the extensions (8BITMIME, SMTPUTF8) that MAIL FROM's parameters need.
        await client.ehlo()
        return None
    if relayhost is not None and relayhost.login is not None:
        return Reply.synthetic_reply(
            451, "4.7.5", "the relayhost does not offer STARTTLS; AUTH is never sent in clear"
        )
    if require_tls or (relayhost is not None and relayhost.tls_required):
        return Reply.synthetic_reply(451, "4.7.5", "the server does not offer STARTTLS")
    return None
