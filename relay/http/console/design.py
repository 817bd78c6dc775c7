"""The design page: the shop's design (relay.actions.design, as `relay shop design`), a live
preview of any kind in the design being edited (relay.actions.preview, as `relay preview`),
and a test e-mail of the saved design (relay.actions.test_email, as `relay test-email`).

The preview is a route of its own, shown in a sandboxed frame: `GET /design/preview` with the
kind, the language and the colours, font and footer being edited in the query (a GET: it
changes nothing). Without JavaScript the preview form loads it into the frame; with it,
static/console.js reloads the frame as the fields change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from html import escape
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from relay.actions import design as design_actions
from relay.actions.errors import ActionError
from relay.actions.preview import render_preview
from relay.actions.test_email import DEFAULT_KIND, send_queued
from relay.history import message
from relay.http.console.deps import deps
from relay.http.console.pages import PREFIX, frame, redirect, render, shop_of, words
from relay.http.console.texts import field_error
from relay.model import Shop
from relay.preview import preview_html
from relay.render import LANGUAGES, Design, RenderError
from relay.render.design import MAX_IMAGE_BYTES
from relay.render.templates import BUILTIN_KINDS

# Form field -> the design's field (relay.actions.design.FIELDS).
COLOURS = ("primary", "text", "background")
TEXT_FIELDS = (*COLOURS, "font", "footer", "language")
PREVIEW_FIELDS = (*COLOURS, "font", "footer")
MAX_QUERY_VALUE = 2000


async def show(request: web.Request) -> web.Response:
    shop = shop_of(request)
    t = words(request, shop)
    notices = []
    if request.query.get("saved") == "1":
        notices.append(t("design.saved"))
    sent = request.query.get("sent")
    if sent:
        notices += _sent_notice(request, shop, sent)
    return _page(request, shop, notices=notices)


def _sent_notice(request: web.Request, shop: Shop, message_id: str) -> list[str]:
    """What became of the test e-mail just sent (this shop's messages only)."""
    t = words(request, shop)
    view = message(deps(request).read(), message_id[:64], shop=shop.name, language=t.language)
    if view is None or not view.recipients:
        return []
    first = view.recipients[0]
    return [t("test.sent", to=first.address, id=view.id, state=first.text)]


async def save(request: web.Request) -> web.StreamResponse:
    shop, d = shop_of(request), deps(request)
    form = await request.post()
    changes: dict[str, Any] = {name: _text(form, name) for name in TEXT_FIELDS if name in form}
    upload = form.get("header_image")
    if isinstance(upload, web.FileField) and upload.filename:
        changes["header_image"] = upload.file.read(MAX_IMAGE_BYTES + 1)  # more is refused
    elif form.get("remove_header") == "1":
        changes["header_image"] = None
    try:
        change = design_actions.plan_design(d.read(), shop, changes)
    except ActionError as error:
        return _page(request, shop, status=422, error=error, values=changes)
    await d.write(lambda tx: design_actions.save(tx, shop.name, change))
    return redirect(f"{PREFIX}/design?saved=1")


async def preview(request: web.Request) -> web.Response:
    """The kind in the design being edited, for the sandboxed frame."""
    shop, d = shop_of(request), deps(request)
    t = words(request, shop)
    kind = request.query.get("kind", DEFAULT_KIND)
    language = request.query.get("language") or None
    edits = {
        name: request.query[name][:MAX_QUERY_VALUE]
        for name in PREVIEW_FIELDS
        if name in request.query
    }

    def rendered() -> str:
        conn = d.read()
        shown: Design | None = None
        if edits:
            shown = design_actions.current(conn, shop).changed(**edits)
        return preview_html(render_preview(conn, shop, kind, language, design=shown).parts)

    try:
        html = await asyncio.to_thread(rendered)  # MJML and CSS inlining: off the event loop
    except (ActionError, RenderError) as error:
        text = field_error(t, _field(error), str(error))
        return frame(_message_document(t("design.preview_failed"), text), status=422)
    return frame(html)


async def test_email(request: web.Request) -> web.StreamResponse:
    shop, d = shop_of(request), deps(request)
    form = await request.post()
    to, kind = _text(form, "to"), _text(form, "kind") or DEFAULT_KIND
    if d.submitter is None or d.render is None:
        error = ActionError(words(request, shop)("test.unavailable"), "to")
        return _page(request, shop, status=503, error=error, test_values={"to": to, "kind": kind})
    try:
        prepared = await send_queued(d.read(), shop, to, d.render, d.submitter, kind)
    except ActionError as error:
        return _page(request, shop, status=422, error=error, test_values={"to": to, "kind": kind})
    return redirect(f"{PREFIX}/design?sent={prepared.id}")


def _page(
    request: web.Request,
    shop: Shop,
    *,
    status: int = 200,
    notices: list[str] | None = None,
    error: ActionError | None = None,
    values: Mapping[str, Any] | None = None,
    test_values: Mapping[str, str] | None = None,
) -> web.Response:
    t = words(request, shop)
    design = design_actions.current(deps(request).read(), shop)
    shown = {name: getattr(design, name) for name in TEXT_FIELDS}
    shown.update({k: v for k, v in (values or {}).items() if k in TEXT_FIELDS})
    described = design_actions.describe(design)
    errors = [field_error(t, error.field, str(error))] if error else []
    return render(
        request, "design.html", title=t("design.title"), t=t, shop=shop, active="design",
        status=status, notices=notices or [], errors=errors,
        error_field=error.field if error else None, values=shown, described=described,
        kinds=[k for k in shop.kinds if k in BUILTIN_KINDS], languages_mail=LANGUAGES,
        test=test_values or {"to": "", "kind": DEFAULT_KIND},
        can_test=deps(request).submitter is not None,
        preview_url=f"{PREFIX}/design/preview",
    )  # fmt: skip


def _field(error: ActionError | RenderError) -> str | None:
    return error.field if isinstance(error, ActionError) else error.variable


def _message_document(title: str, text: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"><style>body{font:15px/1.5 Arial,'
        "sans-serif;margin:16px;color:#7f1d1d}</style></head>"
        f"<body><p><strong>{escape(title)}</strong></p><p>{escape(text)}</p></body></html>"
    )


def _text(form: MultiDictProxy[Any] | Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
