"""A shop's suppressed addresses in words: the blocks of its own customers (the block list is
one for all shops; a shop sees only addresses it sent to) and its opt-outs.
`GET /api/v1/suppressions` and the console's problems page read them."""

from __future__ import annotations

from dataclasses import dataclass

from relay.explain import kind_words, reason_words
from relay.store.sql import Conn
from relay.store.suppression import blocks_seen_by, list_optouts

MAX_LIST = 1000


@dataclass(frozen=True)
class BlockView:
    address: str
    reason: str
    created_at: float
    text: str


@dataclass(frozen=True)
class OptOutView:
    address: str
    kind: str
    created_at: float
    source: str
    text: str


@dataclass(frozen=True)
class Suppressions:
    blocks: list[BlockView]
    optouts: list[OptOutView]


def shop_suppressions(
    conn: Conn, shop: str, address: str | None = None, language: str = "en", limit: int = MAX_LIST
) -> Suppressions:
    blocks = [
        BlockView(b.address, b.reason, b.created_at, block_words(b.reason, language))
        for b in blocks_seen_by(conn, shop, address, limit)
    ]
    optouts = [
        OptOutView(o.address, o.kind, o.created_at, o.source, optout_words(o.kind, language))
        for o in list_optouts(conn, shop, address)[:limit]
    ]
    return Suppressions(blocks, optouts)


def block_words(reason: str, language: str) -> str:
    if reason == "complaint":
        if language == "de":
            return "gesperrt nach einer Spam-Beschwerde des Kunden"
        return "blocked after the customer's spam complaint"
    if reason == "admin":
        return "von einem Admin gesperrt" if language == "de" else "blocked by an admin"
    why = reason_words(reason, language) or reason
    return f"gesperrt: {why}" if language == "de" else f"blocked: {why}"


def optout_words(kind: str, language: str) -> str:
    if language == "de":
        return f"der Kunde hat sich von {kind_words(kind, 'de')} abgemeldet"
    return f"the customer opted out of {kind_words(kind, 'en')}"
