"""Rendering with what the store holds for a shop: its design, its own templates, its language.

The entry point of the API (and of `relay test-email`):

    message = compose(conn, shop, TemplateRequest(kind="payment-reminder", to=("max@example.org",),
                                                  data={...}, order="1001"))
    prepared = await submitter.submit(shop.name, shop.sender, list(request.to), message, client)

`compose` raises `relay.render.RenderError` for every refusal (unknown kind or variable, a
missing or mistyped value, a language without a template); its text names template, line and
variable, for a 422 or an SMTP 550 5.6.0. The message carries `X-Relay-Kind`, `X-Relay-Order`,
`X-Relay-Rendered` (and `X-Relay-Test` for a test), which the submission path reads into the
history and removes.

`StoredAssets` is the same lookup for the SMTP way in (relay.prepare.templated), `relay
preview` and `relay shop template`: the shop's design (validated once per stored version and
kept by its digest) and the shop's template for a kind and language, else the default.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from relay.model import Shop
from relay.render import (
    Design,
    Envelope,
    RenderError,
    TemplateSource,
    default_template,
    render_message,
)
from relay.store.designs import StoredDesign, design_digest, get_design, get_template
from relay.store.sql import Conn

TEST_HEADER = "X-Relay-Test"  # marks the history row as a test (relay test-email)
MAX_RECIPIENTS = 100  # as over SMTP (relay.smtp.submission)
_CACHED_DESIGNS = 64  # validated designs kept by digest (each holds its header image)


@dataclass(frozen=True)
class TemplateRequest:
    kind: str
    to: tuple[str, ...]
    data: dict
    language: str | None = None  # None: the design's default language, else the shop's
    order: str | None = None
    test: bool = False


def compose(conn: Conn, shop: Shop, request: TemplateRequest) -> bytes:
    """The finished message for `Submitter.submit`; RenderError when it cannot be rendered."""
    recipients = _recipients(request.to)
    if request.kind not in shop.kinds:
        known = ", ".join(sorted(shop.kinds))
        raise RenderError(
            f"unknown kind {request.kind!r}; this shop knows: {known}", variable="kind"
        )
    assets = StoredAssets(conn)
    design = assets.design(shop)
    language = request.language or design.language
    template = assets.template(shop, request.kind, language)
    envelope = Envelope(
        sender=shop.sender,
        sender_name=shop.sender_name,
        recipient=recipients[0],
        order=request.order,
        undisclosed=len(recipients) > 1,  # no customer sees another's address
    )
    message = render_message(design, template, request.data, envelope).message
    return mark_test(message) if request.test else message


def mark_test(message: bytes) -> bytes:
    return f"{TEST_HEADER}: yes\r\n".encode() + message


class StoredAssets:
    """A shop's design and templates as the store holds them (relay.prepare.templated.Assets)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def design(self, shop: Shop) -> Design:
        """The shop's design; a shop without one gets the default design in its language."""
        digest = design_digest(self.conn, shop.name)
        if digest is None:
            return Design(language=shop.language)
        cached = _DESIGNS.get(digest)
        if cached is not None:
            return cached
        stored = get_design(self.conn, shop.name)
        if stored is None:  # removed in between
            return Design(language=shop.language)
        design = design_from_store(stored)
        _DESIGNS.put(stored.digest, design)
        return design

    def template(self, shop: Shop, kind: str, language: str) -> TemplateSource:
        """The shop's own template for `kind` and `language`, else the shipped default."""
        stored = get_template(self.conn, shop.name, kind, language)
        if stored is None:
            return default_template(kind, language)
        return TemplateSource.from_file_text(kind, language, stored.source)

    def has_own_template(self, shop: Shop, kind: str, language: str) -> bool:
        return get_template(self.conn, shop.name, kind, language) is not None


class DesignCache:
    """Validated designs by digest, the least recently used dropped past `size`. The render
    thread and the preview threads share it: each step runs under one lock (a lookup that
    moves a key another thread has just evicted would raise KeyError)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Design] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Design | None:
        with self._lock:
            found = self._items.get(digest)
            if found is not None:
                self._items.move_to_end(digest)
            return found

    def put(self, digest: str, design: Design) -> None:
        with self._lock:
            self._items[digest] = design
            self._items.move_to_end(digest)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


_DESIGNS = DesignCache(_CACHED_DESIGNS)


def design_to_store(design: Design, now: float | None = None) -> StoredDesign:
    values = design.to_fields()
    image = values.pop("header_image")
    fields = json.dumps(values, ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(fields.encode() + b"\0" + (image or b"")).hexdigest()
    return StoredDesign(fields, image, digest, now if now is not None else time.time())


def design_from_store(stored: StoredDesign) -> Design:
    """Validated again on the way in: a hand-edited row cannot slip past the checks."""
    try:
        values: Any = json.loads(stored.fields)
        if not isinstance(values, dict):
            raise TypeError("not a JSON object")
        return Design.create(header_image=stored.header_image, **values)
    except (ValueError, TypeError) as error:
        if isinstance(error, RenderError):
            raise
        raise RenderError(f"stored design is unreadable: {error}", template="design") from None


def _recipients(to: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(to, str) or not to:
        raise RenderError("name at least one recipient in `to`", variable="to")
    if len(to) > MAX_RECIPIENTS:
        raise RenderError(f"at most {MAX_RECIPIENTS} recipients in `to`", variable="to")
    if not all(isinstance(address, str) for address in to):
        raise RenderError("every recipient in `to` must be an address (text)", variable="to")
    return tuple(to)
