"""What an outcome event brings with it, in the transaction that writes the event.

`relay.store.events.add_event` is the one place every event is written; for the outcomes SPEC
lists ("API and webhooks") it calls `after_event`, which
- counts the outcome for the shop's day (relay.store.days, the rates of `relay status`);
- writes a webhook outbox row when the shop has an active endpoint that wants the event type
  (the transactional outbox: the row exists exactly when the event does);
- escalates mandatory mail that cannot reach the customer (bounced, expired, failed, suppressed
  for a block): a problem row, always, and `message.undeliverable` for the shop's endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from relay.kinds import shop_kinds
from relay.model import EventKind
from relay.store import days
from relay.store.outbox import NewRow, enqueue
from relay.store.problems import open_problem
from relay.store.sql import Tx, row
from relay.store.webhooks import wanted_events
from relay.webhooks.events import (
    STATE_OF,
    Dsn,
    Event,
    EventType,
    MessageFacts,
    SmtpReply,
    escalates,
    message_event,
    opt_out_event,
)
from relay.webhooks.signing import new_webhook_id

_MESSAGE_TYPES = {
    EventKind.DELIVERED: EventType.DELIVERED,
    EventKind.DEFERRED: EventType.DEFERRED,
    EventKind.BOUNCED: EventType.BOUNCED,
    EventKind.FAILED: EventType.FAILED,
    EventKind.SUPPRESSED: EventType.SUPPRESSED,
    EventKind.COMPLAINED: EventType.COMPLAINED,
}
# Outcomes after which mandatory mail may be undeliverable (the facts decide).
_FINAL = frozenset({EventKind.BOUNCED, EventKind.FAILED, EventKind.SUPPRESSED})
OUTCOMES = frozenset({*_MESSAGE_TYPES, EventKind.OPTED_OUT})

_FACTS = """
SELECT r.address, r.reason, r.detail, r.attempts, r.next_attempt_at, r.last_code,
       r.last_status, r.last_text, m.kind, m.order_ref, m.identity, m.test, s.custom_kinds
FROM recipients r JOIN messages m ON m.id = r.message LEFT JOIN shops s ON s.name = m.shop
WHERE r.id = ?
"""


def after_event(
    tx: Tx,
    kind: str,
    shop: str | None,
    message: str | None,
    recipient: int | None,
    at: float,
    detail: dict[str, Any],
) -> None:
    if shop is None or kind not in OUTCOMES:
        return
    days.count(tx, shop, kind, at)
    wanted = wanted_events(tx, shop)
    if kind == EventKind.OPTED_OUT:
        if EventType.OPTED_OUT in wanted:
            _opt_out(tx, shop, at, detail)
        return
    if recipient is None or message is None or (not wanted and kind not in _FINAL):
        return
    event_type = _MESSAGE_TYPES[EventKind(kind)]
    facts = _facts(tx, shop, message, recipient, event_type, detail)
    if facts is None:
        return
    if event_type in wanted:
        event = message_event(event_type, facts, at, feedback_type=detail.get("feedback_type"))
        _tell(tx, event, message, recipient)
    if escalates(facts):
        _escalate(tx, facts, recipient, at, wanted)


def _facts(
    tx: Tx, shop: str, message: str, recipient: int, event_type: EventType, detail: dict
) -> MessageFacts | None:
    found = row(tx, _FACTS, (recipient,))
    if found is None:
        return None
    kinds = shop_kinds(json.loads(found["custom_kinds"] or "{}"))
    known = kinds.get(found["kind"])
    from_report = "report" in detail and event_type is EventType.BOUNCED
    reply = None
    if found["last_code"] is not None and not from_report:
        reply = SmtpReply(found["last_code"], found["last_status"], found["last_text"] or "")
    dsn = None
    if from_report:
        dsn = Dsn(detail.get("status"), detail.get("diagnostic"), detail.get("remote_mta"))
    return MessageFacts(
        shop=shop,
        message_id=message,
        recipient=found["address"],
        kind=found["kind"],
        mandatory=known is None or not known.optional,
        state=STATE_OF[event_type],  # the state the event reports (a complaint: delivered)
        order=found["order_ref"],
        reason=found["reason"],
        detail=found["detail"],
        attempts=int(found["attempts"] or 0),
        reply=reply,
        dsn=dsn,
        next_attempt_at=found["next_attempt_at"] if event_type is EventType.DEFERRED else None,
        identity=found["identity"],
        test=bool(found["test"]),
    )


def _escalate(
    tx: Tx, facts: MessageFacts, recipient: int, at: float, wanted: frozenset[str]
) -> None:
    opened = open_problem(
        tx,
        shop=facts.shop,
        message=facts.message_id,
        recipient=recipient,
        address=facts.recipient,
        kind=facts.kind,
        order_ref=facts.order,
        cause="expired" if facts.reason == "expired" else facts.state,
        reason=facts.reason,
        at=at,
    )
    if opened is not None and EventType.UNDELIVERABLE in wanted:
        _tell(tx, message_event(EventType.UNDELIVERABLE, facts, at), facts.message_id, recipient)


def _opt_out(tx: Tx, shop: str, at: float, detail: dict) -> None:
    event = opt_out_event(
        shop, detail.get("address", ""), detail.get("kind", ""), detail.get("source", ""), at
    )
    _tell(tx, event, None, None)


def _tell(tx: Tx, event: Event, message: str | None, recipient: int | None) -> None:
    webhook_id = new_webhook_id()
    enqueue(
        tx,
        NewRow(
            shop=event.data["shop"],
            webhook_id=webhook_id,
            type=str(event.type),
            message=message,
            recipient=recipient,
            # One message's events go out in order; an opt-out is a sequence of its own.
            sequence=message or webhook_id,
            body=event.body(),
            created_at=event.at,
        ),
    )
