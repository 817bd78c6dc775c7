"""The one way a message enters the queue: SMTP, the API, the CLI and the console submit here.

`Submitter.submit` runs the same steps for every way in: the shop's current record (cached until
a shop or DNS verdict changes), `prepare()` (X-Relay-Template / X-Relay-Layout rendered in the
shop's design, X-Relay-* headers, From, identity, recipients), DKIM signatures, then one
transaction for the message, its recipients and their events. It returns once that transaction
is committed, so the caller may answer "queued" (SMTP 250, API 202); a refusal raises
`Rejection` with the SMTP reply, and nothing is stored.

`submit_now` is the same path for a process without a running relay (`relay test-email`): it
shares `prepare_submission` and the store's `insert_message`, signs in its own process and
commits in one transaction; a running `relay serve` delivers the message within seconds.
"""

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass

from relay import logs
from relay.compose import StoredAssets
from relay.model import Shop
from relay.prepare.headers import Source
from relay.prepare.pipeline import (
    Prepared,
    Rejection,
    Settings,
    apply_signatures,
    asks_for_rendering,
    prepare,
    sign_job,
)
from relay.prepare.recipients import Lookups
from relay.signing import Signer
from relay.smtp import replies
from relay.store import dns_results, suppression
from relay.store import shops as shop_store
from relay.store.db import Database, Read, Write
from relay.store.messages import insert_message
from relay.store.sql import Conn, Tx


@dataclass
class SubmissionDeps:
    read: Read  # read handle of the calling thread
    write: Write
    signer: Signer
    settings: Settings
    typo: Callable[[str], str | None]
    on_queued: Callable[[], None]  # wakes the delivery scheduler


# A message rendered in the shop's design (X-Relay-Template, X-Relay-Layout) is prepared in a
# thread of its own, not on the event loop that serves every session of the worker; past this
# the client gets 451 (the sandbox's CPU budget ends a runaway template well before).
RENDER_SECONDS = 30.0
# A message larger than this is prepared in a thread: reading its spool back, re-encoding it
# and the per-recipient lookups would otherwise hold every other session of the worker.
OFF_LOOP_ABOVE = 256 * 1024


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
        self._return_paths: dict[str, dict[str, str]] = {}

    def get(self, conn: Conn, name: str) -> tuple[Shop | None, set[str]]:
        version = shop_store.shops_version(conn)
        if version != self._version:
            self._version, self._shops = version, {}
            self._verified = shop_store.verified_domains(conn)
            self._return_paths = dns_results.return_paths(conn)
        if name not in self._shops:
            self._shops[name] = shop_store.get_shop(conn, name)
        return self._shops[name], self._verified.get(name, set())

    def return_paths(self, name: str) -> dict[str, str]:
        """The shop's verified domains with a usable custom return path (after `get`)."""
        return self._return_paths.get(name, {})


class Submitter:
    def __init__(self, deps: SubmissionDeps) -> None:
        self.deps = deps
        self.shops = ShopCache()
        # One thread: renders never race on the renderer's caches.
        self._render = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="render-smtp")

    async def submit(
        self,
        shop_name: str,
        mail_from: str,
        recipients: list[str],
        data: bytes | Source,
        client: str,
        *,
        also: Callable[[Tx, Prepared], object] | None = None,
    ) -> Prepared:
        """Queue `data` (an RFC 5322 message with CRLF line endings, as bytes or as the spool of
        relay.smtp.data) for `recipients`.

        Raises Rejection (nothing stored) or ShopGone. Pass `data` without keeping a reference
        of your own: it is dropped as soon as the prepared copy exists (large messages).
        `also(tx, prepared)` runs in the transaction that stores the message (the API keeps its
        Idempotency-Key there); what it raises rolls the message back and is raised here."""
        conn = self.deps.read()
        shop, verified = self.shops.get(conn, shop_name)
        if shop is None:
            raise ShopGone(shop_name)
        deps = self.deps
        rendered = asks_for_rendering(data)
        large = (len(data) if isinstance(data, bytes) else data.size) > OFF_LOOP_ABOVE
        args = (shop, verified, data, recipients, deps.settings, deps.typo,
                self.shops.return_paths(shop_name))  # fmt: skip
        del data  # the prepared copy is what is signed and stored
        if rendered:
            prepared = await self._prepare_off_loop(args)
        elif large:
            read = deps.read  # the thread's own read handle
            prepared = await asyncio.to_thread(lambda a=args: prepare_submission(read(), *a))
        else:
            prepared = prepare_submission(conn, *args)
        del args
        apply_signatures(prepared, await deps.signer.sign(prepared))

        def store(tx: Tx) -> None:
            insert_message(tx, prepared, mail_from, client)
            if also is not None:
                also(tx, prepared)

        await deps.write(store)
        deps.on_queued()
        logs.accepted(prepared, client)  # issue 14: one line per accepted message
        return prepared

    async def _prepare_off_loop(self, args: tuple) -> Prepared:
        """prepare_submission in the render thread (with that thread's read handle)."""
        read, loop = self.deps.read, asyncio.get_running_loop()
        work = loop.run_in_executor(self._render, lambda: prepare_submission(read(), *args))
        try:
            return await asyncio.wait_for(work, timeout=RENDER_SECONDS)
        except TimeoutError:
            raise Rejection(replies.RENDER_TOO_SLOW.format(seconds=RENDER_SECONDS)) from None


def prepare_submission(
    conn: Conn,
    shop: Shop,
    verified: set[str],
    data: bytes,
    recipients: list[str],
    settings: Settings,
    typo: Callable[[str], str | None],
    return_paths: dict[str, str] | None = None,
) -> Prepared:
    """`prepare()` with the store's lookups (blocks, opt-outs, the shop's design and templates;
    `return_paths`: its verified domains' custom return paths, read from the store if None)."""
    if return_paths is None:
        return_paths = dns_results.return_paths(conn).get(shop.name, {})
    lookups = Lookups(
        block=lambda address: suppression.find_block(conn, address),
        optout=lambda name, address, kind: suppression.find_optout(conn, name, address, kind),
        typo=typo,
        return_path=return_paths.get,
    )
    return prepare(data, recipients, shop, verified, lookups, settings, assets=StoredAssets(conn))


def submit_now(
    db: Database,
    shop_name: str,
    mail_from: str,
    recipients: list[str],
    data: bytes,
    client: str,
    settings: Settings,
    typo: Callable[[str], str | None] = lambda domain: None,
) -> Prepared:
    """The submission path without a running relay: signed here, stored in one transaction.
    Raises Rejection (nothing stored) or ShopGone."""
    conn = db.read()
    shop = shop_store.get_shop(conn, shop_name)
    if shop is None:
        raise ShopGone(shop_name)
    verified = shop_store.verified_domains(conn).get(shop.name, set())
    prepared = prepare_submission(conn, shop, verified, data, recipients, settings, typo)
    apply_signatures(prepared, [sign_job(job, prepared.body) for job in prepared.sign_jobs])
    with db.transaction() as tx:
        insert_message(tx, prepared, mail_from, client)
    return prepared


__all__ = ["Rejection", "ShopGone", "SubmissionDeps", "Submitter", "submit_now"]
