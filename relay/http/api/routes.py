"""The API's routes: one table that registers the handlers and writes the OpenAPI document's
`paths`, so the document cannot name a route the server lacks, nor the reverse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from relay.http.api import messages, shop
from relay.http.api.schemas import LANGUAGES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON = "application/json"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under /api/v1, in OpenAPI's template form
    handler: Handler
    summary: str
    # status -> (description, the answer's schema: a component's name, inline, or None)
    answers: dict[str, tuple[str, str | dict[str, Any] | None]]
    body: str | list[str] | None = None  # request schema(s)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = ()  # besides 401 and 500, which every route may answer
    public: bool = False  # no token needed

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


def _path_param(name: str, text: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": text,
    }


LANGUAGE = {
    "name": "language",
    "in": "query",
    "required": False,
    "schema": {"enum": LANGUAGES},
    "description": "the language of the words (`text`); default: the shop's",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "retry-safe sends: a retry with the same key and body gets the first "
    "answer (with Idempotent-Replayed: true) and sends nothing; kept for a day",
}


async def openapi(request: web.Request) -> web.Response:
    from relay.http.api.openapi import document

    return web.json_response(document())


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/openapi.json",
        openapi,
        "This document (OpenAPI 3.1)",
        {"200": ("the document", {"type": "object", "required": ["openapi", "paths"]})},
        public=True,
    ),
    Route(
        "POST",
        "/messages",
        messages.send,
        "Send a message: a template with data, or a raw RFC 5322 message",
        {"202": ("queued: the message id and one row per recipient", "Accepted")},
        body=["SendTemplate", "SendRaw"],
        parameters=[IDEMPOTENCY_KEY],
        errors=(400, 413, 415, 422, 501, 503),
    ),
    Route(
        "GET",
        "/messages/{id}",
        messages.get_message,
        "One message: recipients, attempts, events",
        {"200": ("the message", "Message")},
        parameters=[_path_param("id", "the relay's id of the message"), LANGUAGE],
        errors=(404,),
    ),
    Route(
        "GET",
        "/orders/{order}/messages",
        messages.get_order,
        "An order's e-mails with what happened, in the shop's language",
        {"200": ("the order's messages, oldest first", "OrderMessages")},
        parameters=[_path_param("order", "the order (X-Relay-Order)"), LANGUAGE],
        errors=(404,),
    ),
    Route(
        "GET",
        "/suppressions",
        shop.suppressions,
        "This shop's blocked and opted-out addresses, with why and since when",
        {"200": ("blocks and opt-outs, newest first, a page of each", "Suppressions")},
        parameters=[
            {
                "name": "address",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "only this address",
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000},
                "description": "at most this many blocks and this many opt-outs",
            },
            {
                "name": "after",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,1000}$"},
                "description": "the `next` of the last answer: the page after it",
            },
            LANGUAGE,
        ],
        errors=(422,),
    ),
    Route(
        "GET",
        "/webhooks",
        shop.get_webhook,
        "The shop's webhook endpoint, its event types, backlog and last error",
        {"200": ("the endpoint", "Webhook")},
        errors=(404,),
    ),
    Route(
        "PUT",
        "/webhooks",
        shop.put_webhook,
        "Set the webhook endpoint (the first time, or with rotate_secret, with a new secret)",
        {
            "200": ("changed", "Webhook"),
            "201": ("created; `secret` is shown this once", "Webhook"),
        },
        body="WebhookPut",
        errors=(400, 413, 415, 422, 503),
    ),
    Route(
        "DELETE",
        "/webhooks",
        shop.delete_webhook,
        "Remove the webhook endpoint (events waiting for it are dropped)",
        {"204": ("removed", None)},
        errors=(404,),
    ),
    Route(
        "GET",
        "/problems",
        shop.list_problems,
        "Mandatory mail that did not reach the customer, waiting for the shop to act",
        {"200": ("open problems, newest first (state=all: acknowledged ones too)", "Problems")},
        parameters=[
            {
                "name": "state",
                "in": "query",
                "required": False,
                "schema": {"enum": ["open", "all"]},
            },
            LANGUAGE,
        ],
        errors=(422,),
    ),
    Route(
        "POST",
        "/problems/{id}/ack",
        shop.ack_problem,
        "Acknowledge a problem: the shop reaches the customer another way (safe to repeat)",
        {"200": ("the problem, acknowledged", "Problem")},
        parameters=[_path_param("id", "the problem's id"), LANGUAGE],
        errors=(404,),
    ),
)


def register(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
