"""A shop's suppressed addresses in words: the blocks of its own customers (the block list is
one for all shops; a shop sees only addresses it sent to) and its opt-outs.
`GET /api/v1/suppressions` and the console's problems page read them.

Newest first, in pages of `limit` of each list: a shop's software that syncs its "do not mail"
list reads the new ones first, and `next` (an opaque cursor: where each list stopped) takes it
to the older ones; nothing is left out silently.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from relay.actions.errors import ActionError
from relay.explain import kind_words, reason_words
from relay.store.sql import Conn
from relay.store.suppression import blocks_seen_by, optouts_newest_first

MAX_LIST = 1000
_CURSOR_CHARS = 1000  # a cursor holds two addresses (at most 254 octets each) and two times


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


BlockKey = tuple[float, str]  # (created_at, address) of the last block shown
OptOutKey = tuple[float, str, str]  # (created_at, address, kind) of the last opt-out shown


@dataclass(frozen=True)
class Cursor:
    """Where each list of a page stopped: None, from its newest; `done`, nothing more."""

    blocks: BlockKey | None = None
    optouts: OptOutKey | None = None
    blocks_done: bool = False
    optouts_done: bool = False

    def encode(self) -> str:
        data = {
            "b": "done" if self.blocks_done else self.blocks,
            "o": "done" if self.optouts_done else self.optouts,
        }
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """A cursor as `encode` wrote it; ActionError (field `after`) for anything else."""
        try:
            if len(text) > _CURSOR_CHARS:
                raise ValueError("too long")
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            blocks, optouts = _key(data["b"], 2), _key(data["o"], 3)
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise ActionError(
                "`after` is not a cursor this relay gave; use the `next` of the last answer,"
                " or leave it out to start from the newest",
                "after",
            ) from None
        return cls(
            None if blocks in (None, "done") else blocks,  # type: ignore[arg-type]
            None if optouts in (None, "done") else optouts,  # type: ignore[arg-type]
            blocks == "done",
            optouts == "done",
        )


def _key(value: Any, size: int) -> tuple[Any, ...] | str | None:
    """A list's position in a cursor: None, "done", or [time, address(, kind)]."""
    if value is None or value == "done":
        return value
    if not isinstance(value, list) or len(value) != size:
        raise ValueError("not a position")
    at, *names = value
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise ValueError("not a time")
    if not all(isinstance(n, str) and 0 < len(n) <= 320 for n in names):
        raise ValueError("not an address")
    return (float(at), *names)


@dataclass(frozen=True)
class Suppressions:
    blocks: list[BlockView]
    optouts: list[OptOutView]
    next: Cursor | None = None  # more in either list: where to go on


def shop_suppressions(
    conn: Conn,
    shop: str,
    address: str | None = None,
    language: str = "en",
    limit: int = MAX_LIST,
    after: Cursor | None = None,
) -> Suppressions:
    """Up to `limit` blocks and `limit` opt-outs, newest first, from `after` on."""
    at = after or Cursor()
    found_blocks = (
        [] if at.blocks_done else blocks_seen_by(conn, shop, address, limit + 1, at.blocks)
    )
    found_optouts = (
        [] if at.optouts_done else optouts_newest_first(conn, shop, address, limit + 1, at.optouts)
    )
    blocks = [
        BlockView(b.address, b.reason, b.created_at, block_words(b.reason, language))
        for b in found_blocks[:limit]
    ]
    optouts = [
        OptOutView(o.address, o.kind, o.created_at, o.source, optout_words(o.kind, language))
        for o in found_optouts[:limit]
    ]
    more_blocks, more_optouts = len(found_blocks) > limit, len(found_optouts) > limit
    following = None
    if more_blocks or more_optouts:
        following = Cursor(
            (blocks[-1].created_at, blocks[-1].address) if more_blocks else None,
            (optouts[-1].created_at, optouts[-1].address, optouts[-1].kind)
            if more_optouts
            else None,
            not more_blocks,
            not more_optouts,
        )
    return Suppressions(blocks, optouts, following)


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
