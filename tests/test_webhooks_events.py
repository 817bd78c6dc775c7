"""Webhook event payloads: the Standard Webhooks shape, valid against their JSON Schemas (checked
by `jsonschema`, not by hand), the words of `relay messages`, and the escalation rule."""

from __future__ import annotations

import json

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from relay.explain import explain
from relay.webhooks.events import (
    Dsn,
    EventType,
    MessageFacts,
    SmtpReply,
    escalates,
    message_event,
    opt_out_event,
)
from relay.webhooks.schemas import event_schema, openapi_components, openapi_webhooks

AT = 1_767_261_600.25  # 2026-01-01 10:00:00.25 UTC
BASE = MessageFacts(
    shop="mein-shop",
    message_id="01JH7Q3X",
    recipient="max@example.org",
    kind="dunning",
    mandatory=True,
    state="delivered",
    order="1001",
    attempts=1,
)
REPLY_250 = SmtpReply(250, "2.0.0", "Ok: queued as 4bXy")
REPLY_550 = SmtpReply(550, "5.1.1", "<max@example.org>: Recipient address rejected: unknown")
REPLY_450 = SmtpReply(450, "4.2.0", "Mailbox busy, try again later")
DSN_511 = Dsn("5.1.1", "smtp; 550 5.1.1 <max@example.org>: User unknown", "mx.example.org")


def facts(**changes: object) -> MessageFacts:
    values = {**BASE.__dict__, **changes}
    return MessageFacts(**values)  # type: ignore[arg-type]


# One example per event type, as the store will describe each outcome.
EXAMPLES = {
    EventType.DELIVERED: lambda: message_event(
        EventType.DELIVERED, facts(reply=REPLY_250, identity="shop"), AT
    ),
    EventType.DEFERRED: lambda: message_event(
        EventType.DEFERRED,
        facts(state="deferred", reply=REPLY_450, next_attempt_at=AT + 300),
        AT,
    ),
    EventType.BOUNCED: lambda: message_event(
        EventType.BOUNCED, facts(state="bounced", reason="userunknown", dsn=DSN_511), AT
    ),
    EventType.FAILED: lambda: message_event(
        EventType.FAILED,
        facts(state="failed", reason="hostunknown", detail="the domain does not exist"),
        AT,
    ),
    EventType.SUPPRESSED: lambda: message_event(
        EventType.SUPPRESSED,
        facts(state="suppressed", reason="kind-disabled", detail="the shop disabled dunning"),
        AT,
    ),
    EventType.COMPLAINED: lambda: message_event(
        EventType.COMPLAINED, facts(kind="refund", mandatory=False), AT, feedback_type="abuse"
    ),
    EventType.OPTED_OUT: lambda: opt_out_event(
        "mein-shop", "max@example.org", "refund", "one-click", AT, message_id="01JH7Q3X"
    ),
    EventType.UNDELIVERABLE: lambda: message_event(
        EventType.UNDELIVERABLE,
        facts(state="bounced", reason="userunknown", reply=REPLY_550, attempts=1),
        AT,
    ),
}


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_is_standard_webhooks_json_valid_against_its_schema(
    event_type: EventType,
) -> None:
    event = EXAMPLES[event_type]()
    payload = json.loads(event.body())
    assert payload == event.payload()
    assert payload["type"] == str(event_type)
    assert payload["timestamp"] == "2026-01-01T10:00:00.250000Z"
    assert set(payload) == {"type", "timestamp", "data"}
    validator = jsonschema.Draft202012Validator(
        event_schema(event_type), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(payload)
    assert payload["data"]["text"]


def test_a_schema_refuses_what_its_type_does_not_allow() -> None:
    """The schemas can fail: each catches a payload that breaks it."""
    bounced = EXAMPLES[EventType.BOUNCED]().payload()
    schema = event_schema(EventType.BOUNCED)
    for broken in (
        {**bounced, "type": "message.delivered"},
        {**bounced, "data": {**bounced["data"], "state": "delivered"}},
        {**bounced, "data": {**bounced["data"], "surprise": 1}},
        {**bounced, "data": {k: v for k, v in bounced["data"].items() if k != "recipient"}},
        {**bounced, "data": {**bounced["data"], "reply": {"code": 99, "status": "x", "text": ""}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)
    deferred = EXAMPLES[EventType.DEFERRED]().payload()
    deferred["data"]["next_attempt_at"] = None  # a deferral always says when the next try is
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(deferred, event_schema(EventType.DEFERRED))


def test_openapi_components_validate_the_same_payloads() -> None:
    """The form the OpenAPI document includes (refs to #/components/schemas/...) says the same
    as the standalone schemas."""
    components = openapi_components()
    document = {"components": {"schemas": components}}
    registry = Registry().with_resource("urn:relay:openapi", DRAFT202012.create_resource(document))
    for event_type in EventType:
        name = next(n for n, s in components.items() if s.get("title") and _is(s, event_type))
        schema = {"$ref": f"urn:relay:openapi#/components/schemas/{name}"}
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        validator.validate(EXAMPLES[event_type]().payload())
    hooks = openapi_webhooks()
    assert set(hooks) == {str(t) for t in EventType}
    for hook in hooks.values():
        ref = hook["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.removeprefix("#/components/schemas/") in components
        names = {p["name"] for p in hook["post"]["parameters"]}
        assert names == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def _is(schema: dict, event_type: EventType) -> bool:
    return schema["properties"]["type"] == {"const": str(event_type)}


def test_text_is_what_relay_messages_says() -> None:
    """The words of relay/explain.py, so the CLI and the shop's software tell one story."""
    bounced = EXAMPLES[EventType.BOUNCED]().data
    row = {"state": "bounced", "reason": "userunknown", "last_status": "5.1.1"}
    assert bounced["text"] == explain(row)
    assert bounced["text"] == "rejected by the recipient's server: mailbox does not exist (5.1.1)"
    deferred = EXAMPLES[EventType.DEFERRED]().data
    assert deferred["text"].startswith("delayed, retrying at 2026-01-01 10:05 UTC: Mailbox busy")
    assert deferred["next_attempt_at"] == "2026-01-01T10:05:00.250000Z"
    delivered = message_event(EventType.DELIVERED, facts(identity="fallback"), AT).data
    assert "not set up (SPF/DKIM)" in delivered["text"]
    assert "blocked for all shops" in EXAMPLES[EventType.COMPLAINED]().data["text"]
    assert EXAMPLES[EventType.OPTED_OUT]().data["text"] == (
        "the customer opted out of refund confirmations (one-click)"
    )


def test_undeliverable_says_what_happened_and_what_the_shop_must_do() -> None:
    data = EXAMPLES[EventType.UNDELIVERABLE]().data
    assert data["cause"] == "bounced"
    assert data["reply"] == {"code": 550, "status": "5.1.1", "text": REPLY_550.text}
    assert data["text"].startswith("rejected by the recipient's server: mailbox does not exist")
    assert "by post" in data["text"]
    assert data["action"]["code"] == "reach-customer-otherwise"
    assert "order 1001" in data["action"]["text"] and "by post" in data["action"]["text"]
    expired = message_event(
        EventType.UNDELIVERABLE,
        facts(state="bounced", reason="expired", reply=SmtpReply(None, "4.4.1", "refused")),
        AT,
    ).data
    assert expired["cause"] == "expired"
    assert expired["text"].startswith("not delivered: gave up after retrying")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": "bounced", "reason": "userunknown"}, True),
        ({"state": "bounced", "reason": "expired"}, True),
        ({"state": "failed", "reason": "hostunknown"}, True),
        ({"state": "suppressed", "reason": "blocked"}, True),
        ({"state": "suppressed", "reason": "kind-disabled"}, False),  # the shop's own choice
        ({"state": "deferred"}, False),
        ({"state": "delivered"}, False),
        ({"state": "bounced", "kind": "refund", "mandatory": False}, False),
    ],
)
def test_escalation_is_for_mandatory_mail_that_cannot_arrive(changes: dict, expected: bool):
    assert escalates(facts(**changes)) is expected


def test_events_refuse_facts_that_contradict_them() -> None:
    with pytest.raises(ValueError, match="state 'bounced'"):
        message_event(EventType.BOUNCED, facts(state="delivered"), AT)
    with pytest.raises(ValueError, match="mandatory mail"):
        message_event(
            EventType.UNDELIVERABLE, facts(state="bounced", kind="refund", mandatory=False), AT
        )
    with pytest.raises(ValueError, match="opt_out_event"):
        message_event(EventType.OPTED_OUT, facts(), AT)
    with pytest.raises(ValueError, match="next_attempt_at"):
        message_event(EventType.DEFERRED, facts(state="deferred", reply=REPLY_450), AT)


def test_remote_words_are_capped_and_bodies_stay_small() -> None:
    """Standard Webhooks asks for small payloads; a remote server's reply can be long."""
    long_reply = SmtpReply(550, "5.7.1", "x" * 50_000)
    event = message_event(EventType.BOUNCED, facts(state="bounced", reply=long_reply), AT)
    assert len(event.data["reply"]["text"]) == 1000
    assert len(event.body()) < 5_000
    detail = message_event(EventType.FAILED, facts(state="failed", detail="y" * 50_000), AT).data[
        "text"
    ]
    assert len(detail) < 1100


def test_non_ascii_stays_utf8() -> None:
    event = message_event(EventType.DELIVERED, facts(recipient="jörg@example.org"), AT)
    assert "jörg@example.org".encode() in event.body()
