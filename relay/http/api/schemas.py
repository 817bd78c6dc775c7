"""JSON Schemas (2020-12, the dialect of OpenAPI 3.1) of the API's requests and answers.

One source: the OpenAPI document (relay.http.api.openapi) publishes them under
`components.schemas`, and the server validates every request body against the same schema
(relay.http.api.body), so a body the document allows is a body the server takes.
"""

from __future__ import annotations

from typing import Any

from relay.webhooks.events import EventType

REF = "#/components/schemas/"
MAX_RECIPIENTS = 50
LANGUAGES = ["de", "en"]
STATES = ["queued", "inflight", "delivered", "deferred", "bounced", "failed", "suppressed"]
STATES += ["quarantined"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STRING = {"type": "string"}
COUNT = {"type": "integer", "minimum": 0}
TIME = {"type": "string", "format": "date-time"}
ADDRESS = {"type": "string", "minLength": 3, "maxLength": 320, "pattern": "^[^\\s@]+@[^\\s@]+$"}
ORDER = {"type": "string", "minLength": 1, "maxLength": 128}
TO = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_RECIPIENTS,
    "items": ADDRESS,
    "description": "the envelope recipients (one row each in the history)",
}


def _object(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
        **extra,
    }


def _send_template() -> dict[str, Any]:
    return _object(
        ["template", "to"],
        {
            "template": {
                **STRING,
                "description": "the kind whose template renders the message (payment-reminder, "
                "dunning, ...), in the shop's design",
            },
            "kind": {**STRING, "description": "the message's kind; when given, equals template"},
            "to": TO,
            "order": {**ORDER, "description": "the order it belongs to (X-Relay-Order)"},
            "language": {"enum": LANGUAGES, "description": "default: the shop's language"},
            "data": {"type": "object", "description": "the values the template shows"},
            "test": {
                "type": "boolean",
                "description": "a test: marked in history, in no order's list, never escalated",
            },
        },
        description="Send a message the relay renders from a template with data",
    )


def _send_raw() -> dict[str, Any]:
    return _object(
        ["raw", "to"],
        {
            "raw": {
                **STRING,
                "minLength": 1,
                "description": "a whole RFC 5322 message (headers, blank line, body); LF or "
                "CRLF line endings; X-Relay-Kind and X-Relay-Order as over SMTP",
            },
            "to": TO,
        },
        description="Send a finished message, through the same checks as SMTP submission",
    )


def _accepted() -> dict[str, Any]:
    recipient = _object(
        ["address", "state", "reason", "text"],
        {
            "address": STRING,
            "state": {"enum": ["queued", "suppressed", "failed"]},
            "reason": _nullable(STRING),
            "text": {**STRING, "description": "what happened, in the shop's language"},
        },
    )
    return _object(
        ["id", "message_id", "kind", "order", "recipients"],
        {
            "id": {**STRING, "description": "the relay's id of the message"},
            "message_id": {**STRING, "description": "its Message-ID header"},
            "kind": STRING,
            "order": _nullable(STRING),
            "recipients": {"type": "array", "items": recipient},
        },
    )


def _message() -> dict[str, Any]:
    attempt = _object(
        ["at", "mx_host", "code", "status", "text", "tls", "duration_ms"],
        {
            "at": TIME,
            "mx_host": _nullable(STRING),
            "code": _nullable({"type": "integer"}),
            "status": _nullable(STRING),
            "text": _nullable(STRING),
            "tls": {"type": "boolean"},
            "duration_ms": {"type": "integer", "minimum": 0},
        },
    )
    recipient = _object(
        ["address", "state", "reason", "text", "typo_warning", "next_attempt_at", "attempts"],
        {
            "address": STRING,
            "state": {"enum": STATES},
            "reason": _nullable(STRING),
            "text": {**STRING, "description": "what happened, in words"},
            "typo_warning": _nullable(STRING),
            "next_attempt_at": _nullable(TIME),
            "updated_at": TIME,
            "attempts": {"type": "array", "items": attempt},
        },
    )
    event = _object(
        ["at", "kind", "recipient", "text"],
        {"at": TIME, "kind": STRING, "recipient": _nullable(STRING), "text": STRING},
    )
    return _object(
        ["id", "message_id", "kind", "order", "subject", "created_at", "recipients", "events"],
        {
            "id": STRING,
            "message_id": STRING,
            "kind": STRING,
            "kind_text": STRING,
            "order": _nullable(STRING),
            "subject": STRING,
            "created_at": TIME,
            "identity": {
                "enum": ["shop", "fallback"],
                "description": "signed as the shop, or sent from the relay's fallback address",
            },
            "template": _nullable({**STRING, "description": "the template it was rendered from"}),
            "test": {"type": "boolean"},
            "recipients": {"type": "array", "items": recipient},
            "events": {"type": "array", "items": event},
        },
    )


def _suppressions() -> dict[str, Any]:
    block = _object(
        ["address", "reason", "since", "text"],
        {"address": STRING, "reason": STRING, "since": TIME, "text": STRING},
        description="blocked for every shop (a complaint, or a bounce that proved it dead)",
    )
    optout = _object(
        ["address", "kind", "since", "source", "text"],
        {"address": STRING, "kind": STRING, "since": TIME, "source": STRING, "text": STRING},
        description="the customer stopped one optional kind of this shop's mail",
    )
    return _object(
        ["blocks", "optouts", "next"],
        {
            "blocks": {"type": "array", "items": block, "description": "newest first"},
            "optouts": {"type": "array", "items": optout, "description": "newest first"},
            "next": _nullable(
                {
                    **STRING,
                    "description": "more in either list: pass it as `after` for the next page"
                    " (a list that ended comes back empty); null: nothing more",
                }
            ),
        },
    )


def _webhook() -> dict[str, Any]:
    return _object(
        ["url", "events", "active", "created_at", "updated_at", "pending", "last_error"],
        {
            "url": STRING,
            "events": {"type": "array", "items": {"enum": [str(t) for t in EventType]}},
            "active": {"type": "boolean", "description": "false after the endpoint answered 410"},
            "disabled_why": _nullable(STRING),
            "previous_secret_expires_at": _nullable(
                {**TIME, "description": "a rotated secret signs too until then"}
            ),
            "created_at": TIME,
            "updated_at": TIME,
            "pending": {"type": "integer", "minimum": 0, "description": "events waiting"},
            "last_error": _nullable(STRING),
            "last_error_at": _nullable(TIME),
            "secret": {
                **STRING,
                "description": "the signing secret (whsec_...): in the answer only when it was "
                "made, by the first PUT or with rotate_secret; keep it, it is not shown again",
            },
        },
    )


def _webhook_put() -> dict[str, Any]:
    return _object(
        [],
        {
            "url": {**STRING, "maxLength": 2048, "description": "https://; required at first"},
            "events": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": [str(t) for t in EventType]},
                "description": "default: all",
            },
            "rotate_secret": {
                "type": "boolean",
                "description": "make a new secret; the old one signs too for a day",
            },
        },
    )


def _problem() -> dict[str, Any]:
    return _object(
        [
            "id",
            "message_id",
            "recipient",
            "kind",
            "order",
            "cause",
            "reason",
            "text",
            "action",
            "created_at",
            "acked_at",
            "open",
        ],
        {
            "id": {"type": "integer"},
            "message_id": STRING,
            "recipient": STRING,
            "kind": STRING,
            "order": _nullable(STRING),
            "cause": {"enum": ["bounced", "failed", "suppressed", "expired"]},
            "reason": _nullable(STRING),
            "text": {**STRING, "description": "what happened, in words"},
            "action": {**STRING, "description": "what the shop must do"},
            "created_at": TIME,
            "acked_at": _nullable(TIME),
            "acked_by": _nullable(STRING),
            "open": {"type": "boolean"},
        },
        description="Mandatory mail that did not reach the customer, open until acknowledged",
    )


def _error() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {**STRING, "format": "uri-reference"},
            "title": STRING,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": STRING,
            "field": {**STRING, "description": "JSON Pointer (RFC 6901) of the wrong input"},
            "smtp_reply": {**STRING, "description": "the refusal as SMTP submission words it"},
            "template": _nullable(STRING),
            "line": _nullable({"type": "integer"}),
            "variable": _nullable(STRING),
        },
    }


def components() -> dict[str, dict[str, Any]]:
    return {
        "SendTemplate": _send_template(),
        "SendRaw": _send_raw(),
        "Accepted": _accepted(),
        "Message": _message(),
        "OrderMessages": _object(
            ["order", "total", "messages"],
            {
                "order": STRING,
                "total": {
                    **COUNT,
                    "description": "all the order's messages; the first 200 are listed",
                },
                "messages": {"type": "array", "items": ref("Message")},
            },
        ),
        "Suppressions": _suppressions(),
        "Webhook": _webhook(),
        "WebhookPut": _webhook_put(),
        "Problem": _problem(),
        "Problems": _object(
            ["total", "problems"],
            {
                "total": {**COUNT, "description": "problems in all; the newest 200 are listed"},
                "problems": {"type": "array", "items": ref("Problem")},
            },
        ),
        "Error": _error(),
    }
