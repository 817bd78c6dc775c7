"""The one way a message enters the queue: SMTP, the API, the CLI and the console submit here.

`Submitter.submit` runs the same steps for every way in: the shop's current record (cached until
a shop or DNS verdict changes), `prepare()` (X-Relay-* headers, From, identity, recipients),
DKIM signatures, then one transaction for the message, its recipients and their events. It
returns once that transaction is committed, so the caller may answer "queued" (SMTP 250, API
202); a refusal raises `Rejection` with the SMTP reply, and nothing is stored.
"""

from collections.abc import Callable
from dataclasses import dataclass

from relay import logs
from relay.model import Shop
from relay.prepare.headers import Source
from relay.prepare.pipeline import Prepared, Rejection, Settings, apply_signatures, prepare
from relay.prepare.recipients import Lookups
from relay.signing import Signer
from relay.store import shops as shop_store
from relay.store import suppression
from relay.store.db import Read, Write
from relay.store.messages import insert_message
from relay.store.sql import Conn


@dataclass
class SubmissionDeps:
    read: Read  # read handle of the calling thread
    write: Write
    signer: Signer
    settings: Settings
    typo: Callable[[str], str | None]
    on_queued: Callable[[], None]  # wakes the delivery scheduler


class ShopGone(Exception):
    """The shop was removed after its client authenticated."""


class ShopCache:
    """Shops and their verified domains, read again only when the store's shops version moved
    (every change to a shop or a verdict bumps it), so `relay dns check` counts from the next
    message."""

    def __init__(self) -> None:
        self._version: int | None = None
        self._shops: dict[str, Shop | None] = {}
        self._verified: dict[str, set[str]] = {}

    def get(self, conn: Conn, name: str) -> tuple[Shop | None, set[str]]:
        version = shop_store.shops_version(conn)
        if version != self._version:
            self._version, self._shops = version, {}
            self._verified = shop_store.verified_domains(conn)
        if name not in self._shops:
            self._shops[name] = shop_store.get_shop(conn, name)
        return self._shops[name], self._verified.get(name, set())


class Submitter:
    def __init__(self, deps: SubmissionDeps) -> None:
        self.deps = deps
        self.shops = ShopCache()

    async def submit(
        self,
        shop_name: str,
        mail_from: str,
        recipients: list[str],
        data: bytes | Source,
        client: str,
    ) -> Prepared:
        """Queue `data` (an RFC 5322 message with CRLF line endings, as bytes or as the spool of
        relay.smtp.data) for `recipients`.

        Raises Rejection (nothing stored) or ShopGone. Pass `data` without keeping a reference
        of your own: it is dropped as soon as the prepared copy exists (large messages)."""
        conn = self.deps.read()
        shop, verified = self.shops.get(conn, shop_name)
        if shop is None:
            raise ShopGone(shop_name)
        lookups = self._lookups(conn)
        prepared = prepare(data, recipients, shop, verified, lookups, self.deps.settings)
        del data  # the prepared copy is what is signed and stored
        apply_signatures(prepared, await self.deps.signer.sign(prepared))
        await self.deps.write(lambda tx: insert_message(tx, prepared, mail_from, client))
        self.deps.on_queued()
        logs.accepted(prepared, client)  # issue 14: one line per accepted message
        return prepared

    def _lookups(self, conn: Conn) -> Lookups:
        return Lookups(
            block=lambda address: suppression.find_block(conn, address),
            optout=lambda shop, address, kind: suppression.find_optout(conn, shop, address, kind),
            typo=self.deps.typo,
        )


__all__ = ["Rejection", "ShopGone", "SubmissionDeps", "Submitter"]
