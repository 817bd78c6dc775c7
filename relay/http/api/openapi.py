"""The OpenAPI 3.1 document served at `/api/v1/openapi.json`, built from one source: the route
table (relay.http.api.routes), the request and answer schemas (relay.http.api.schemas, which
the server validates bodies with) and the webhook event schemas (relay.webhooks.schemas)."""

from __future__ import annotations

import functools
from typing import Any

from relay.http.api.errors import CODES, CONTENT_TYPE, TYPE_BASE
from relay.http.api.routes import JSON, ROUTES, Route
from relay.http.api.schemas import components, ref
from relay.webhooks import schemas as webhook_schemas

PREFIX = "/api/v1"
VERSION = "1.0.0"

_ERRORS = {
    400: "the body is not JSON",
    401: "no token, or not a valid one (WWW-Authenticate: Bearer)",
    404: "not found: unknown, or another shop's (the same answer, so ids cannot be probed)",
    413: "the body or the message is too large",
    415: "the body is not application/json",
    422: "not valid: `field` names the input (JSON Pointer) and `detail` says why",
    500: "internal error",
    501: "templates cannot be rendered by this relay version",
    503: "try again later (Retry-After)",
}


def _error_answer(status: int) -> dict[str, Any]:
    return {
        "description": _ERRORS[status],
        "content": {CONTENT_TYPE: {"schema": ref("Error")}},
    }


def _operation(route: Route) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, (text, schema) in route.answers.items():
        answers[status] = {"description": text}
        if schema is not None:
            inline = schema if isinstance(schema, dict) else ref(schema)
            answers[status]["content"] = {JSON: {"schema": inline}}
    for status in sorted({500, *route.errors} | (set() if route.public else {401})):
        answers[str(status)] = _error_answer(status)
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "parameters": route.parameters,
        "responses": answers,
    }
    if route.public:
        operation["security"] = []
    if route.body is not None:
        names = [route.body] if isinstance(route.body, str) else route.body
        schema = ref(names[0]) if len(names) == 1 else {"oneOf": [ref(n) for n in names]}
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
    return operation


def _error_codes() -> str:
    return "; ".join(f"`{TYPE_BASE}{code}` ({status})" for code, (status, _) in CODES.items())


@functools.cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(route)
    schemas = {**components(), **webhook_schemas.openapi_components()}
    schemas["Error"]["description"] += ". Types: " + _error_codes()
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": webhook_schemas.DIALECT,
        "info": {
            "title": "relay API",
            "version": VERSION,
            "description": (
                "Send shop mail, read what happened to it per order, hear about every outcome by "
                "signed webhooks (Standard Webhooks). Authenticate with a shop's API token: "
                "`Authorization: Bearer rly_...` (`relay shop token create SHOP`). Times are "
                "RFC 3339 in UTC."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "webhooks": webhook_schemas.openapi_webhooks(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "rly_<id>_<secret>"}
            },
        },
    }
