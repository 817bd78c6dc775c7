"""The read model of what happened to mail: one place for the CLI, the API and the console.

From the store it builds a message with its recipients (state, reason, what happened in words
in the shop's language or English, attempts, the typo warning), its events in words, whether
it was rendered from a template and whether it was a test. `relay messages`, `relay message
show`, `GET /api/v1/messages/{id}` and `GET /api/v1/orders/{order}/messages` all read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from relay.event_words import event_words
from relay.explain import explain, kind_words
from relay.store import history as store
from relay.store.messages import history as history_rows
from relay.store.sql import Conn


@dataclass(frozen=True)
class AttemptView:
    at: float
    mx_host: str | None
    code: int | None
    status: str | None
    text: str | None
    tls: bool
    duration_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "mx_host": self.mx_host,
            "code": self.code,
            "status": self.status,
            "text": self.text,
            "tls": self.tls,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class RecipientView:
    id: int
    address: str
    state: str
    reason: str | None
    text: str  # what happened, in words
    typo_warning: str | None
    attempts: tuple[AttemptView, ...]
    next_attempt_at: float | None
    updated_at: float
    record: dict[str, Any] = field(repr=False)  # the stored row (the CLI shows all of it)


@dataclass(frozen=True)
class EventView:
    at: float
    kind: str
    recipient: str | None  # the address, for an event about one recipient
    text: str  # in words
    record: dict[str, Any] = field(repr=False)  # the stored event, detail included


@dataclass(frozen=True)
class MessageView:
    id: str
    shop: str
    order: str | None
    kind: str
    kind_words: str
    subject: str
    created_at: float
    identity: str  # "shop" (signed as the shop) or "fallback"
    template: str | None  # the template it was rendered from, or None (the shop's own mail)
    test: bool  # a test message (`relay test-email`)
    recipients: tuple[RecipientView, ...]
    events: tuple[EventView, ...]
    record: dict[str, Any] = field(repr=False)

    def as_record(self) -> dict[str, Any]:
        """The stored message with its recipients (each with `attempts_log` and its words as
        `explanation`) and `events`: what `relay message show --json` prints."""
        recipients = [
            {
                **r.record,
                "attempts_log": [a.as_dict() for a in r.attempts],
                "explanation": r.text,
            }
            for r in self.recipients
        ]
        return {**self.record, "recipients": recipients, "events": [e.record for e in self.events]}


def message(
    conn: Conn, message_id: str, *, shop: str | None = None, language: str = "en"
) -> MessageView | None:
    """One message (of `shop` only, when given: another shop's id is as unknown as none)."""
    found = store.messages_by_id(conn, [message_id], shop)
    return _views(conn, found, language)[0] if found else None


def order_messages(conn: Conn, shop: str, order: str, language: str) -> list[MessageView]:
    """The e-mails of one order of one shop, oldest first."""
    return _views(conn, store.order_messages(conn, shop, order), language)


def body(conn: Conn, message_id: str) -> bytes:
    return store.message_body(conn, message_id) or b""


def rows(
    conn: Conn,
    *,
    shop: str | None = None,
    order: str | None = None,
    to: str | None = None,
    status: str | None = None,
    limit: int = 200,
    language: str = "en",
) -> list[dict[str, Any]]:
    """History, one row per recipient, newest first (`relay messages`): the stored columns,
    plus `status`, `recipient` and `explanation` (the words)."""
    found = history_rows(conn, shop=shop, order=order, to=to, status=status, limit=limit)
    for row in found:
        row["status"] = row["state"]
        row["explanation"] = explain(row, language)
        row["recipient"] = row.pop("address")
    return found


def _views(conn: Conn, messages: list[dict[str, Any]], language: str) -> list[MessageView]:
    ids = [m["id"] for m in messages]
    recipients = store.recipients_of(conn, ids)
    attempts = store.attempts_of(conn, [r["id"] for rs in recipients.values() for r in rs])
    events = store.events_of(conn, ids)
    return [
        _view(m, recipients.get(m["id"], []), attempts, events.get(m["id"], []), language)
        for m in messages
    ]


def _view(
    record: dict[str, Any],
    recipients: list[dict[str, Any]],
    attempts: dict[int, list[dict[str, Any]]],
    events: list[dict[str, Any]],
    language: str,
) -> MessageView:
    typos = {
        e["recipient"]: e["detail"].get("text")
        for e in events
        if e["kind"] == "warning" and e["detail"].get("reason") == "typo"
    }
    addresses = {r["id"]: r["address"] for r in recipients}
    context = {"identity": record["identity"], "kind": record["kind"]}
    return MessageView(
        id=record["id"],
        shop=record["shop"],
        order=record["order_ref"],
        kind=record["kind"],
        kind_words=kind_words(record["kind"], language),
        subject=record["subject"] or "",
        created_at=record["created_at"],
        identity=record["identity"],
        template=record.get("template") or None,
        test=bool(record.get("test")),
        recipients=tuple(
            _recipient(r, context, attempts.get(r["id"], []), typos.get(r["id"]), language)
            for r in recipients
        ),
        events=tuple(_event(e, addresses, language) for e in events),
        record=record,
    )


def _recipient(
    stored: dict[str, Any],
    context: dict[str, Any],
    attempts: list[dict[str, Any]],
    typo: str | None,
    language: str,
) -> RecipientView:
    record = dict(stored)
    prefix = record.pop("prefix", b"") or b""
    record["signature"] = bytes(prefix).decode("ascii", "replace")
    return RecipientView(
        id=record["id"],
        address=record["address"],
        state=record["state"],
        reason=record["reason"],
        text=explain({**record, **context, "last_mx_host": _last_mx_host(attempts)}, language),
        typo_warning=_typo_words(typo, language),
        attempts=tuple(_attempt(a) for a in attempts),
        next_attempt_at=record["next_attempt_at"],
        updated_at=record["updated_at"],
        record=record,
    )


def _last_mx_host(attempts: list[dict[str, Any]]) -> str | None:
    """The server that gave the last reply (None: no attempt reached one; explain() then
    shows no code)."""
    return attempts[-1]["mx_host"] if attempts else None


def _attempt(stored: dict[str, Any]) -> AttemptView:
    return AttemptView(
        at=stored["at"],
        mx_host=stored["mx_host"],
        code=stored["code"],
        status=stored["status"],
        text=stored["text"],
        tls=bool(stored["tls"]),
        duration_ms=int(stored["duration_ms"] or 0),
    )


def _typo_words(typo: str | None, language: str) -> str | None:
    if typo is None or language != "de":
        return typo
    found = _TYPO.fullmatch(typo)
    if found is None:
        return typo
    return f"die Domain {found.group(1)} sieht nach einem Tippfehler für {found.group(2)} aus"


# The words relay/prepare/recipients.py stores with a typo warning.
_TYPO = re.compile(r"the domain (\S+) looks like a typo of (\S+)")


def _event(stored: dict[str, Any], addresses: dict[int, str], language: str) -> EventView:
    return EventView(
        at=stored["at"],
        kind=stored["kind"],
        recipient=addresses.get(stored["recipient"]),
        text=event_words(stored["kind"], stored["detail"], language),
        record=stored,
    )
