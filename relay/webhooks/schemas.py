"""JSON Schema (2020-12, the dialect of OpenAPI 3.1) of every webhook event payload.

One source, three forms:
- `openapi_components()`: the schemas for `components.schemas` of /api/v1/openapi.json, with
  `$ref`s to `#/components/schemas/...`;
- `openapi_webhooks()`: the OpenAPI 3.1 `webhooks` object (one POST per event type, with the
  Standard Webhooks headers);
- `event_schema(type)`: one self-contained schema (its pieces under `$defs`), for validators.
"""

from __future__ import annotations

from typing import Any

from relay.webhooks.events import REACH_OTHERWISE, UNDELIVERABLE_STATES, EventType

DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENTS = "#/components/schemas/"

_TITLES = {
    EventType.DELIVERED: "The recipient's server accepted the message",
    EventType.DEFERRED: "A temporary error; the relay tries again at next_attempt_at",
    EventType.BOUNCED: "The recipient's server refused the message, now or by a later bounce",
    EventType.FAILED: "The address or its domain can never receive mail; nothing was sent",
    EventType.SUPPRESSED: "Not sent on purpose: blocked address, opt-out or kind disabled",
    EventType.COMPLAINED: "The customer reported a delivered message as spam",
    EventType.OPTED_OUT: "The customer opted out of one optional kind of this shop's mail",
    EventType.UNDELIVERABLE: "Mandatory mail did not reach the customer: reach them otherwise",
}


def _name(event_type: EventType) -> str:
    """'message.bounced' -> 'MessageBouncedEvent'."""
    parts = event_type.replace(".", "_").split("_")
    return "".join(p.capitalize() for p in parts) + "Event"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_STRING = {"type": "string"}


def _described(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {**schema, "description": text}


_TIME = {"type": "string", "format": "date-time"}


def _pieces() -> dict[str, dict[str, Any]]:
    reply = {
        "type": "object",
        "description": "An SMTP reply (RFC 5321), real or synthesised (4.4.1: no connection)",
        "required": ["code", "status", "text"],
        "additionalProperties": False,
        "properties": {
            "code": _nullable({"type": "integer", "minimum": 200, "maximum": 599}),
            "status": _nullable({"type": "string", "pattern": r"^[245]\.\d{1,3}\.\d{1,3}$"}),
            "text": _STRING,
        },
    }
    dsn = {
        "type": "object",
        "description": "What a later bounce message (RFC 3464 DSN) says",
        "required": ["status", "diagnostic", "remote_mta"],
        "additionalProperties": False,
        "properties": {
            "status": _nullable(_STRING),
            "diagnostic": _nullable(_STRING),
            "remote_mta": _nullable(_STRING),
        },
    }
    return {"WebhookSmtpReply": reply, "WebhookDsn": dsn}


def _message_data(ref: str, state: Any, extra: dict[str, Any], required: list[str]) -> dict:
    base = {
        "shop": _described(_STRING, "the shop's name"),
        "message_id": _described(_STRING, "the relay's id of the message (GET /messages/{id})"),
        "order": _described(_nullable(_STRING), "X-Relay-Order, when the message had one"),
        "kind": _described(_STRING, "X-Relay-Kind: payment-info, dunning, ..."),
        "mandatory": _described({"type": "boolean"}, "the customer cannot opt out of it"),
        "recipient": _STRING,
        "state": _described(state, "the recipient's state after this event"),
        "reason": _described(
            _nullable(_STRING),
            "a bounce reason in Sisimai's names (userunknown, mailboxfull, expired, ...) or why "
            "it was not sent (blocked, opted-out, kind-disabled)",
        ),
        "attempt": _described({"type": "integer", "minimum": 0}, "delivery attempts so far"),
        "reply": _nullable({"$ref": ref + "WebhookSmtpReply"}),
        "dsn": _nullable({"$ref": ref + "WebhookDsn"}),
        "next_attempt_at": _described(_nullable(_TIME), "when the relay tries again"),
        "text": _described(_STRING, "what happened, in words (as `relay messages` says it)"),
    }
    return {
        "type": "object",
        "required": [*base, *required],
        "additionalProperties": False,
        "properties": {**base, **extra},
    }


def _data(event_type: EventType, ref: str) -> dict[str, Any]:
    const = {"const": event_type.split(".")[1]}
    if event_type is EventType.OPTED_OUT:
        return {
            "type": "object",
            "required": ["shop", "recipient", "kind", "source", "message_id", "order", "text"],
            "additionalProperties": False,
            "properties": {
                "shop": _STRING,
                "recipient": _STRING,
                "kind": _STRING,
                "source": {"type": "string", "examples": ["one-click", "link", "mailto"]},
                "message_id": _nullable(_STRING),
                "order": _nullable(_STRING),
                "text": _STRING,
            },
        }
    if event_type is EventType.COMPLAINED:
        complaint = {
            "type": "object",
            "required": ["feedback_type", "blocked"],
            "additionalProperties": False,
            "properties": {"feedback_type": _nullable(_STRING), "blocked": {"type": "boolean"}},
        }
        return _message_data(ref, {"const": "delivered"}, {"complaint": complaint}, ["complaint"])
    if event_type is EventType.UNDELIVERABLE:
        action = {
            "type": "object",
            "required": ["code", "text"],
            "additionalProperties": False,
            "properties": {"code": {"const": REACH_OTHERWISE}, "text": _STRING},
        }
        extra = {
            "cause": {"enum": ["bounced", "failed", "suppressed", "expired"]},
            "action": action,
        }
        state = {"enum": list(UNDELIVERABLE_STATES)}
        return _message_data(ref, state, extra, ["cause", "action"])
    if event_type is EventType.DEFERRED:  # a deferral always says when the next try is
        extra = {"next_attempt_at": _described(_TIME, "when the relay tries again")}
        return _message_data(ref, const, extra, [])
    return _message_data(ref, const, {}, [])


def _event(event_type: EventType, ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": _TITLES[event_type],
        "required": ["type", "timestamp", "data"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": str(event_type)},
            "timestamp": {**_TIME, "description": "when it happened (not when it was sent)"},
            "data": _data(event_type, ref),
        },
    }


def openapi_components() -> dict[str, dict[str, Any]]:
    """Schemas for `components.schemas`: the shared pieces and one per event type."""
    schemas = _pieces()
    for event_type in EventType:
        schemas[_name(event_type)] = _event(event_type, COMPONENTS)
    return schemas


def openapi_webhooks() -> dict[str, Any]:
    """The OpenAPI 3.1 `webhooks` object: what the relay POSTs to a shop's URL."""
    headers = [
        {"name": name, "in": "header", "required": True, "schema": _STRING, "description": text}
        for name, text in (
            ("webhook-id", "the event's id, the same on every retry: drop repeats by it"),
            ("webhook-timestamp", "unix seconds of this attempt; refuse it if far off"),
            ("webhook-signature", "v1,<base64 HMAC-SHA256> (space-separated while rotating)"),
        )
    ]
    hooks = {}
    for event_type in EventType:
        hooks[str(event_type)] = {
            "post": {
                "summary": _TITLES[event_type],
                "parameters": headers,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": COMPONENTS + _name(event_type)}}
                    },
                },
                "responses": {
                    "2XX": {"description": "received (anything else is retried, 410 stops)"}
                },
            }
        }
    return hooks


def event_schema(event_type: EventType) -> dict[str, Any]:
    """A self-contained schema of one event type's payload."""
    return {"$schema": DIALECT, **_event(event_type, "#/$defs/"), "$defs": _pieces()}
