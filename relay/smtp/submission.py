"""The shop submission handler: thin aiosmtpd hooks that validate, hand off, return a reply."""

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from relay.prepare.pipeline import Prepared, Rejection, Settings, apply_signatures, prepare
from relay.prepare.recipients import Lookups
from relay.signing import Signer
from relay.smtp import replies
from relay.smtp.auth import ShopAuthenticator
from relay.smtp.mechanisms import ShopMechanisms
from relay.smtp.protocol import HandlerBase
from relay.store import shops as shop_store
from relay.store import suppression
from relay.store.messages import insert_prepared

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 100  # RFC 5321 4.5.3.1.8: at least 100 must be accepted


@dataclass
class SubmissionDeps:
    read: Callable[[], sqlite3.Connection]  # read connection of the loop thread
    write: Callable[[Callable[[sqlite3.Connection], object]], Awaitable[object]]
    signer: Signer
    settings: Settings
    typo: Callable[[str], str | None]
    trusted: dict[str, str]  # client IP -> shop (no AUTH needed)
    on_queued: Callable[[], None]  # wakes the delivery scheduler


class ShopCache:
    """Shops and their verified domains, read again only when `meta.shops_version` moved
    (triggers bump it on every change), so `relay dns check` counts from the next message."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._shops: dict[str, shop_store.Shop | None] = {}
        self._verified: dict[str, set[str]] = {}

    def get(self, conn: sqlite3.Connection, name: str) -> tuple[shop_store.Shop | None, set[str]]:
        version = conn.execute("SELECT value FROM meta WHERE key = 'shops_version'").fetchone()[0]
        if version != self._version:
            self._version, self._shops = version, {}
            self._verified = shop_store.verified_domains(conn)
        if name not in self._shops:
            self._shops[name] = shop_store.get_shop(conn, name)
        return self._shops[name], self._verified.get(name, set())


class SubmissionHandler(HandlerBase, ShopMechanisms):
    def __init__(self, deps: SubmissionDeps, authenticator: ShopAuthenticator) -> None:
        self.deps = deps
        self.authenticator = authenticator
        self.shops = ShopCache()

    async def before_auth(self, server) -> None:  # type: ignore[no-untyped-def]
        await self.authenticator.before_auth(server)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # type: ignore[no-untyped-def]
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return replies.TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RCPT_OK

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        conn = self.deps.read()
        shop, verified = self.shops.get(conn, session.auth_data)
        if shop is None:  # deleted while the session was open
            return replies.AUTH_REQUIRED
        content, envelope.content, envelope.original_content = envelope.content, None, None
        try:
            prepared = prepare(
                content,
                envelope.rcpt_tos,
                shop,
                verified,
                self._lookups(conn),
                self.deps.settings,
            )
        except Rejection as rejection:
            return rejection.reply
        finally:
            del content  # the prepared copy is what is signed and stored
        apply_signatures(prepared, await self.deps.signer.sign(prepared))
        await self._store(prepared, envelope.mail_from or "", session)
        self.deps.on_queued()
        return replies.QUEUED.format(id=prepared.id)

    async def handle_exception(self, error: Exception) -> str:
        log.error("submission failed", exc_info=error)
        return replies.INTERNAL_ERROR

    def _lookups(self, conn: sqlite3.Connection) -> Lookups:
        return Lookups(
            block=lambda address: suppression.find_block(conn, address),
            optout=lambda shop, address, kind: suppression.find_optout(conn, shop, address, kind),
            typo=self.deps.typo,
        )

    async def _store(self, prepared: Prepared, mail_from: str, session) -> None:  # type: ignore[no-untyped-def]
        client = f"{session.peer[0]}" if isinstance(session.peer, tuple) else ""
        await self.deps.write(lambda c: insert_prepared(c, prepared, mail_from, client))
