"""Errors as RFC 9457 problem details (`application/problem+json`).

Every refusal of the API is an `ApiError`, raised anywhere in a handler and answered by the
API's middleware: `type` is `/api/v1/errors/<code>` (a relative URI, RFC 9457 §3.1.1; the codes
are listed in the OpenAPI document), `title` says the kind of problem, `detail` this
occurrence and what to do, `field` a JSON Pointer (RFC 6901) to the input that is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from relay.actions.errors import ActionError, NotFound

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "/api/v1/errors/"

# code -> (status, title). The document's description of the Error schema lists them.
CODES: dict[str, tuple[int, str]] = {
    "invalid-json": (400, "The body is not JSON"),
    "unauthorized": (401, "A valid API token is needed"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "body-too-large": (413, "The request body is too large"),
    "message-too-large": (413, "The message is too large"),
    "unsupported-media-type": (415, "Send application/json"),
    "invalid-request": (422, "The request is not valid"),
    "refused": (422, "The relay refuses this message"),
    "template": (422, "The template cannot render this message"),
    "idempotency-key-reused": (422, "The Idempotency-Key was used for another request"),
    "webhook-url": (422, "The webhook URL is refused"),
    "templates-unavailable": (501, "Templates are not available in this relay version"),
    "unavailable": (503, "The relay cannot take this now; try again"),
    "internal": (500, "Internal error"),
}


class ApiError(Exception):
    def __init__(
        self,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.status = status or CODES[code][0]
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.code,
            "title": CODES[self.code][1],
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            body["field"] = self.field
        return {**body, **self.extra}

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(), ensure_ascii=False),
            content_type=CONTENT_TYPE,
            headers=self.headers,
        )


def pointer(field: str | None) -> str | None:
    """An action's field name as a JSON Pointer into the request body."""
    if field is None:
        return None
    return field if field.startswith("/") else "/" + field


# The webhook URL's name could not be resolved now (SERVFAIL, a timeout: the relay's resolver
# or the shop's name servers): nothing is wrong with the request, so not 422 (RFC 9110
# §15.5.21) but 503 with Retry-After (§15.6.4), as other outages of the relay are answered.
DNS_RETRY_AFTER = "60"


def from_action(error: ActionError) -> ApiError:
    if isinstance(error, NotFound):
        return ApiError("not-found", error.detail)
    if error.code == "webhook-url-dns":
        return ApiError(
            "unavailable",
            f"{error.detail}; try again in a minute",
            field=pointer(error.field),
            headers={"Retry-After": DNS_RETRY_AFTER},
        )
    if error.code.startswith("webhook-url-"):
        return ApiError("webhook-url", error.detail, field=pointer(error.field))
    return ApiError("invalid-request", error.detail, field=pointer(error.field))


def not_found(what: str) -> ApiError:
    """The one answer for anything unknown or another shop's: ids cannot be probed."""
    return ApiError("not-found", f"no {what}")
