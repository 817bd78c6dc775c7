"""The caller's shop: `GET /suppressions`, `GET/PUT/DELETE /webhooks`, `GET /problems`,
`POST /problems/{id}/ack`. Each reads and changes only the token's own shop."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from relay.actions import problems as problem_actions
from relay.actions import webhooks as webhook_actions
from relay.actions.errors import ActionError
from relay.actions.suppressions import MAX_LIST, Cursor, shop_suppressions
from relay.http.api.body import json_body, validate
from relay.http.api.deps import answer, deps, iso, language, shop, token
from relay.http.api.errors import ApiError, from_action, not_found
from relay.store.problems import count_problems


async def suppressions(request: web.Request) -> web.Response:
    """Newest first, `limit` of each list a page; `next` is the cursor of the page after."""
    api, caller = deps(request), shop(request)
    lang = language(request, caller.language)
    address = request.query.get("address") or None
    limit = _limit(request.query.get("limit"))
    try:
        after = Cursor.decode(request.query["after"]) if "after" in request.query else None
    except ActionError as error:
        raise ApiError("invalid-request", error.detail, field="after") from None
    found = shop_suppressions(api.read(), caller.name, address, lang, limit, after)
    return answer(
        {
            "next": found.next.encode() if found.next else None,
            "blocks": [
                {
                    "address": b.address,
                    "reason": b.reason,
                    "since": iso(b.created_at),
                    "text": b.text,
                }
                for b in found.blocks
            ],
            "optouts": [
                {
                    "address": o.address,
                    "kind": o.kind,
                    "since": iso(o.created_at),
                    "source": o.source,
                    "text": o.text,
                }
                for o in found.optouts
            ],
        }
    )


def _limit(text: str | None) -> int:
    if text is None:
        return MAX_LIST
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not 1 <= int(text) <= MAX_LIST:
        raise ApiError(
            "invalid-request", f"limit is a whole number from 1 to {MAX_LIST}", field="limit"
        )
    return int(text)


def _webhook_body(view: webhook_actions.WebhookView, secret: str | None = None) -> dict[str, Any]:
    body = view.as_dict()
    for key in ("created_at", "updated_at", "last_error_at", "previous_secret_expires_at"):
        body[key] = iso(body[key])
    if secret is not None:
        body["secret"] = secret
    return body


async def get_webhook(request: web.Request) -> web.Response:
    api = deps(request)
    view = webhook_actions.show_webhook(api.read(), token(request).shop)
    if view is None:
        raise not_found("webhook endpoint for this shop; set one with PUT")
    return answer(_webhook_body(view))


async def put_webhook(request: web.Request) -> web.Response:
    api = deps(request)
    body, _raw = await json_body(request, api.max_body)
    validate(body, "WebhookPut")
    shop_name = token(request).shop
    existed = webhook_actions.show_webhook(api.read(), shop_name) is not None
    try:
        saved = await webhook_actions.set_webhook(
            api.webhooks,
            shop_name,
            url=body.get("url"),
            events=body.get("events"),
            rotate_secret=bool(body.get("rotate_secret")),
        )
    except ActionError as exc:
        raise from_action(exc) from None
    return answer(_webhook_body(saved.view, saved.secret), 200 if existed else 201)


async def delete_webhook(request: web.Request) -> web.Response:
    try:
        await webhook_actions.remove_webhook(deps(request).webhooks, token(request).shop)
    except ActionError as exc:
        raise from_action(exc) from None
    return web.Response(status=204)


def _problem_body(view: problem_actions.ProblemView) -> dict[str, Any]:
    body = view.as_dict()
    del body["shop"]
    body["created_at"], body["acked_at"] = iso(view.created_at), iso(view.acked_at)
    return body


async def list_problems(request: web.Request) -> web.Response:
    api, caller = deps(request), shop(request)
    state = request.query.get("state", "open")
    if state not in ("open", "all"):
        raise ApiError("invalid-request", "state is open or all", field="state")
    found = problem_actions.list_problems(
        api.read(),
        caller.name,
        include_acked=state == "all",
        language=language(request, caller.language),
    )
    total = count_problems(api.read(), caller.name, only_open=state != "all")
    return answer({"total": total, "problems": [_problem_body(p) for p in found]})


async def ack_problem(request: web.Request) -> web.Response:
    api, caller = deps(request), shop(request)
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 18:
        raise not_found(f"problem {text!r}")
    try:
        view, _changed = await problem_actions.ack_problem(
            api.read(),
            api.write,
            int(text),
            by=f"api:{token(request).id}",
            shop=caller.name,
            language=language(request, caller.language),
        )
    except ActionError as exc:
        raise from_action(exc) from None
    return answer(_problem_body(view))
