"""The events a shop hears about, as Standard Webhooks payloads: plain values in, JSON bytes out.

`{"type": "message.bounced", "timestamp": "<ISO 8601, when it happened>", "data": {...}}`
(Standard Webhooks, "Payload structure"); the schema of each type is in
relay/webhooks/schemas.py. `data.text` says what happened in the words of `relay messages`
(relay/explain.py), so the CLI, the console and the shop's software tell the same story.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from relay.explain import explain, kind_words, reach_otherwise

MAX_TEXT = 1000  # characters kept of a remote server's words (Standard Webhooks: small bodies)


class EventType(StrEnum):
    DELIVERED = "message.delivered"
    DEFERRED = "message.deferred"
    BOUNCED = "message.bounced"
    FAILED = "message.failed"
    SUPPRESSED = "message.suppressed"
    COMPLAINED = "message.complained"
    OPTED_OUT = "recipient.opted_out"
    UNDELIVERABLE = "message.undeliverable"


# The recipient state each message event reports (a complaint leaves the message delivered).
STATE_OF = {
    EventType.DELIVERED: "delivered",
    EventType.DEFERRED: "deferred",
    EventType.BOUNCED: "bounced",
    EventType.FAILED: "failed",
    EventType.SUPPRESSED: "suppressed",
    EventType.COMPLAINED: "delivered",
}
UNDELIVERABLE_STATES = ("bounced", "failed", "suppressed")
REACH_OTHERWISE = "reach-customer-otherwise"


@dataclass(frozen=True)
class SmtpReply:
    """A receiving server's reply, real or made up by the relay (4.4.1 connection refused)."""

    code: int | None
    status: str | None  # enhanced status code, "5.1.1"
    text: str


@dataclass(frozen=True)
class Dsn:
    """What a bounce message (RFC 3464) that came back later says about the recipient."""

    status: str | None
    diagnostic: str | None  # Diagnostic-Code, e.g. "smtp; 550 5.1.1 <...>: unknown"
    remote_mta: str | None


@dataclass(frozen=True)
class MessageFacts:
    """What the relay knows about one recipient of one message after an outcome."""

    shop: str
    message_id: str
    recipient: str
    kind: str
    mandatory: bool
    state: str  # delivered, deferred, bounced, failed, suppressed
    order: str | None = None
    reason: str | None = None  # Sisimai reason, or why not sent (blocked, opted-out, ...)
    detail: str | None = None  # the relay's words about the cause, as stored
    attempts: int = 0  # delivery attempts so far
    reply: SmtpReply | None = None
    dsn: Dsn | None = None
    next_attempt_at: float | None = None  # unix time (deferred)
    identity: str | None = None  # "shop" or "fallback" (who the From was)
    test: bool = False  # a test message (relay test-email, the API's "test"): never escalated


@dataclass(frozen=True)
class Event:
    """One event ready to be written to the outbox: its type, when it happened, its data."""

    type: EventType
    at: float  # unix time of what happened (not of the POST)
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {"type": str(self.type), "timestamp": iso_time(self.at), "data": self.data}

    def body(self) -> bytes:
        """The exact bytes POSTed and signed: compact UTF-8 JSON (Standard Webhooks)."""
        return json.dumps(self.payload(), separators=(",", ":"), ensure_ascii=False).encode()


def escalates(facts: MessageFacts) -> bool:
    """Mandatory mail that cannot reach the customer (SPEC "API and webhooks"): bounced
    (expired included), failed, or suppressed because the address is blocked."""
    if not facts.mandatory or facts.test:  # a test reaches staff, not a customer to write to
        return False
    if facts.state == "suppressed":
        return facts.reason == "blocked"
    return facts.state in ("bounced", "failed")


def message_event(
    type_: EventType, facts: MessageFacts, at: float, *, feedback_type: str | None = None
) -> Event:
    """A message.* event about one recipient (all types but recipient.opted_out)."""
    if type_ is EventType.OPTED_OUT:
        raise ValueError("recipient.opted_out is made by opt_out_event")
    if type_ is EventType.UNDELIVERABLE:
        return _undeliverable(facts, at)
    if STATE_OF[type_] != facts.state:
        raise ValueError(f"{type_} reports state {STATE_OF[type_]!r}, not {facts.state!r}")
    if type_ is EventType.DEFERRED and facts.next_attempt_at is None:
        raise ValueError("message.deferred says when the next try is: next_attempt_at")
    data = _message_data(facts)
    if type_ is EventType.COMPLAINED:
        data["complaint"] = {"feedback_type": feedback_type, "blocked": True}
        data["text"] = (
            "delivered; the customer then reported it as spam, so the address is blocked "
            "for all shops"
        )
    return Event(type_, at, data)


def _undeliverable(facts: MessageFacts, at: float) -> Event:
    if not escalates(facts):
        raise ValueError(
            "message.undeliverable is for mandatory mail that bounced, failed or was "
            f"suppressed for a block, not {facts.state} ({facts.reason}) of kind {facts.kind}"
        )
    data = _message_data(facts)
    data["cause"] = "expired" if facts.reason == "expired" else facts.state
    data["action"] = {"code": REACH_OTHERWISE, "text": reach_otherwise(facts.kind, facts.order)}
    data["text"] = f"{data['text']}; the shop must reach the customer another way (by post)"
    return Event(EventType.UNDELIVERABLE, at, data)


def opt_out_event(
    shop: str,
    recipient: str,
    kind: str,
    source: str,
    at: float,
    *,
    message_id: str | None = None,
    order: str | None = None,
) -> Event:
    """recipient.opted_out: the customer stopped one optional kind of one shop's mail.

    source: how ("one-click", "link", "mailto", "admin"); message_id and order: the message
    whose link or address was used, when known."""
    data = {
        "shop": shop,
        "recipient": recipient,
        "kind": kind,
        "source": source,
        "message_id": message_id,
        "order": order,
        "text": f"the customer opted out of {kind_words(kind)} ({source})",
    }
    return Event(EventType.OPTED_OUT, at, data)


def _message_data(facts: MessageFacts) -> dict[str, Any]:
    reply, dsn = facts.reply, facts.dsn
    return {
        "shop": facts.shop,
        "message_id": facts.message_id,
        "order": facts.order,
        "kind": facts.kind,
        "mandatory": facts.mandatory,
        "recipient": facts.recipient,
        "state": facts.state,
        "reason": facts.reason,
        "attempt": facts.attempts,
        "reply": None if reply is None else _reply_data(reply),
        "dsn": None if dsn is None else _dsn_data(dsn),
        "next_attempt_at": iso_time(facts.next_attempt_at) if facts.next_attempt_at else None,
        "text": explain(_explain_row(facts)),
    }


def _reply_data(reply: SmtpReply) -> dict[str, Any]:
    return {"code": reply.code, "status": reply.status, "text": _short(reply.text)}


def _dsn_data(dsn: Dsn) -> dict[str, Any]:
    return {
        "status": dsn.status,
        "diagnostic": _short(dsn.diagnostic) if dsn.diagnostic else None,
        "remote_mta": dsn.remote_mta,
    }


def _explain_row(facts: MessageFacts) -> dict[str, Any]:
    """The history row relay/explain.py reads, from the facts (a DSN stands in for a reply)."""
    reply, dsn = facts.reply, facts.dsn
    return {
        "state": facts.state,
        "reason": facts.reason,
        "detail": _short(facts.detail or ""),
        "last_code": reply.code if reply else None,
        "last_status": reply.status if reply else (dsn.status if dsn else None),
        "last_text": _short(reply.text if reply else (dsn.diagnostic if dsn else None) or ""),
        "next_attempt_at": facts.next_attempt_at,
        "identity": facts.identity,
    }


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def iso_time(ts: float) -> str:
    """ISO 8601 in UTC with a Z, as the Standard Webhooks example writes it."""
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
