"""`POST /messages`, `GET /messages/{id}`, `GET /orders/{order}/messages`.

A send takes exactly the path SMTP takes (relay.submit.Submitter: prepare, sign, one
transaction): a rendered template's bytes or the raw message go in as a shop's software would
submit them, with the shop's sender as envelope sender. `Idempotency-Key` (draft-ietf-httpapi-
idempotency-key-header): the first answer is kept with the message, in its transaction, for a
day; a retry with the same key and body gets it again (and nothing is sent), the same key with
another body is a 422.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from aiohttp import web

from relay.explain import explain
from relay.history import MessageView, message, order_messages
from relay.http.api.body import json_body, validate
from relay.http.api.deps import ApiDeps, answer, deps, iso, language, shop, token
from relay.http.api.errors import ApiError, not_found
from relay.model import RecipientPlan, Shop
from relay.prepare.pipeline import Prepared, Rejection
from relay.store import idempotency
from relay.store.errors import StoreError
from relay.store.orders import order_message_count
from relay.store.sql import Tx
from relay.submit import ShopGone

MAX_KEY = 255
REPLAYED = "Idempotent-Replayed"


async def send(request: web.Request) -> web.Response:
    api, caller = deps(request), shop(request)
    body, raw = await json_body(request, api.max_body)
    validate(body, "SendRaw" if isinstance(body, dict) and "raw" in body else "SendTemplate")
    key = _idempotency_key(request)
    fingerprint = ""  # the body's hash, needed only with a key
    if key is not None:
        fingerprint = hashlib.sha256(raw).hexdigest()
        kept = _kept_answer(api, caller.name, key, fingerprint)
        if kept is not None:
            return kept
    data = _raw_message(body, api) if "raw" in body else await _rendered(api, caller, body)
    client = f"api:{token(request).id}:{request.remote or '?'}"
    keep = None if key is None else _keeper(api, caller, key, fingerprint)
    try:
        prepared = await api.submitter.submit(
            caller.name, caller.sender, list(body["to"]), data, client, also=keep
        )
    except idempotency.KeyTaken:  # a concurrent request with this key stored its message first
        kept = _kept_answer(api, caller.name, key or "", fingerprint)
        if kept is None:
            raise ApiError("unavailable", "the key's first request is not finished") from None
        return kept
    except Rejection as exc:
        raise _refusal(exc.reply) from None
    except ShopGone:
        raise ApiError("unauthorized", "the token's shop no longer exists") from None
    except StoreError:
        raise ApiError(
            "unavailable", "the relay could not store the message now; nothing was sent",
            headers={"Retry-After": "30"},
        ) from None  # fmt: skip
    accepted = accepted_body(prepared, caller.language)
    return answer(accepted, 202, {"Location": f"/api/v1/messages/{prepared.id}"})


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 0 < len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise ApiError(
            "invalid-request",
            f"Idempotency-Key is 1 to {MAX_KEY} printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


def _kept_answer(api: ApiDeps, shop_name: str, key: str, fingerprint: str) -> web.Response | None:
    kept = idempotency.find_answer(api.read(), shop_name, key, time.time() - api.idempotency_ttl)
    if kept is None:
        return None
    if kept.fingerprint != fingerprint:
        raise ApiError(
            "idempotency-key-reused",
            f"Idempotency-Key {key!r} was used for another request (message {kept.message});"
            " use a new key for a new message",
            field="Idempotency-Key",
        )
    return answer(
        json.loads(kept.response),
        kept.status,
        {"Location": f"/api/v1/messages/{kept.message}", REPLAYED: "true"},
    )


def _keeper(api: ApiDeps, caller: Shop, key: str, fingerprint: str) -> Any:
    """The job that keeps the answer in the message's own transaction."""

    def keep(tx: Tx, prepared: Prepared) -> None:
        now = time.time()
        stored = idempotency.StoredAnswer(
            fingerprint,
            prepared.id,
            202,
            json.dumps(accepted_body(prepared, caller.language), ensure_ascii=False),
            now,
        )
        idempotency.keep_answer(
            tx, caller.name, key, stored, expired_before=now - api.idempotency_ttl
        )

    return keep


def _raw_message(body: dict[str, Any], api: ApiDeps) -> bytes:
    """The message with CRLF line endings (JSON carries lines; SMTP would need CRLF)."""
    text: str = body["raw"]
    if "\r" in text.replace("\r\n", ""):
        raise ApiError("invalid-request", "a bare CR in the message", field="/raw")
    data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    if len(data) > api.max_message_size:
        raise ApiError(
            "message-too-large",
            f"the message has {len(data)} bytes; at most {api.max_message_size} are taken",
            field="/raw",
        )
    return data


async def _rendered(api: ApiDeps, caller: Shop, body: dict[str, Any]) -> bytes:
    """The message rendered from the shop's template (relay/compose.py), off the event loop
    (relay.http.api.render)."""
    if body.get("kind", body["template"]) != body["template"]:
        raise ApiError("invalid-request", "kind and template differ; give one", field="/kind")
    try:
        from relay.compose import TemplateRequest
    except ImportError:
        raise ApiError(
            "templates-unavailable",
            "this relay cannot render templates yet; send the finished message as `raw`",
        ) from None
    from relay.render import RenderError

    request = TemplateRequest(
        kind=body["template"],
        to=tuple(body["to"]),
        data=body.get("data", {}),
        language=body.get("language"),
        order=body.get("order"),
        test=bool(body.get("test", False)),
    )
    try:
        data = await api.renderer.render(caller, request)
    except RenderError as exc:
        raise ApiError(
            "template",
            str(exc),
            field=f"/data/{exc.variable}" if exc.variable else "/template",
            template=exc.template,
            line=exc.line,
            variable=exc.variable,
        ) from None
    if len(data) > api.max_message_size:
        raise ApiError("message-too-large", "the rendered message is too large", field="/data")
    return data


def _refusal(reply: str) -> ApiError:
    """prepare()'s refusal, in its SMTP words (RFC 3463 class 4: try again; 5: do not)."""
    words = reply[4:] if reply[:3].isdigit() else reply
    if reply.startswith("4"):
        return ApiError("unavailable", words, smtp_reply=reply, headers={"Retry-After": "60"})
    return ApiError("refused", words, smtp_reply=reply)


def accepted_body(prepared: Prepared, shop_language: str) -> dict[str, Any]:
    """The 202 answer: the message id and one row per recipient."""
    return {
        "id": prepared.id,
        "message_id": prepared.message_id,
        "kind": prepared.kind.name,
        "order": prepared.order_ref,
        "recipients": [
            {
                "address": r.address,
                "state": str(r.state),
                "reason": r.reason,
                "text": explain(_plan_row(r, prepared.kind.name), shop_language),
            }
            for r in prepared.recipients
        ],
    }


def _plan_row(plan: RecipientPlan, kind: str) -> dict[str, Any]:
    return {"state": str(plan.state), "reason": plan.reason, "detail": plan.detail, "kind": kind}


async def get_message(request: web.Request) -> web.Response:
    api, caller = deps(request), shop(request)
    found = message(
        api.read(),
        request.match_info["id"].upper(),
        shop=caller.name,
        language=language(request, caller.language),
    )
    if found is None:
        raise not_found(f"message {request.match_info['id']!r}")
    return answer(message_body(found))


async def get_order(request: web.Request) -> web.Response:
    api, caller = deps(request), shop(request)
    order = request.match_info["order"]
    found = order_messages(api.read(), caller.name, order, language(request, caller.language))
    if not found:
        raise not_found(f"message for order {order!r}")
    total = order_message_count(api.read(), caller.name, order)
    return answer({"order": order, "total": total, "messages": [message_body(m) for m in found]})


def message_body(view: MessageView) -> dict[str, Any]:
    return {
        "id": view.id,
        "message_id": view.record["message_id"],
        "kind": view.kind,
        "kind_text": view.kind_words,
        "order": view.order,
        "subject": view.subject,
        "created_at": iso(view.created_at),
        "identity": view.identity,
        "template": view.template,
        "test": view.test,
        "recipients": [
            {
                "address": r.address,
                "state": r.state,
                "reason": r.reason,
                "text": r.text,
                "typo_warning": r.typo_warning,
                "next_attempt_at": iso(r.next_attempt_at),
                "updated_at": iso(r.updated_at),
                "attempts": [{**a.as_dict(), "at": iso(a.at)} for a in r.attempts],
            }
            for r in view.recipients
        ],
        "events": [
            {"at": iso(e.at), "kind": e.kind, "recipient": e.recipient, "text": e.text}
            for e in view.events
        ],
    }
