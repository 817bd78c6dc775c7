"""Settings: sender address and name, the shop's language, which kinds go out. One form, saved
in one transaction through the actions `relay shop set` and `relay shop kinds` use."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from relay.actions import kinds as kind_actions
from relay.actions import shops as shop_actions
from relay.actions.errors import ActionError
from relay.http.console.deps import deps
from relay.http.console.pages import PREFIX, redirect, render, shop_of, words
from relay.http.console.texts import field_error
from relay.model import Shop
from relay.store.sql import Tx

FIELDS = ("sender", "sender_name", "language")


async def show(request: web.Request) -> web.Response:
    shop = shop_of(request)
    t = words(request, shop)
    notices = [t("settings.saved")] if request.query.get("saved") == "1" else []
    return _page(request, shop, notices=notices)


async def save(request: web.Request) -> web.StreamResponse:
    shop, d = shop_of(request), deps(request)
    form = await request.post()
    values = {name: _text(form, name) for name in FIELDS}
    known = [k["kind"] for k in kind_actions.kinds_of(shop)]
    enabled = {v for v in form.getall("kind", []) if isinstance(v, str)}
    conn = d.read()
    try:
        update = shop_actions.plan_update(
            conn,
            shop.name,
            sender=values["sender"],
            sender_name=values["sender_name"],
            language=values["language"],
        )
        kinds = kind_actions.plan_kinds(
            conn,
            shop.name,
            enable=[k for k in known if k in enabled],
            disable=[k for k in known if k not in enabled],
        )
    except ActionError as error:
        return _page(request, shop, status=422, error=error, values=values, enabled=enabled)

    def job(tx: Tx) -> None:
        shop_actions.apply_update(tx, update)
        kind_actions.save(tx, kinds)

    try:
        await d.write(job)
    except ActionError as error:  # the shop was removed meanwhile
        return _page(request, shop, status=422, error=error, values=values, enabled=enabled)
    return redirect(f"{PREFIX}/settings?saved=1")


def _page(
    request: web.Request,
    shop: Shop,
    *,
    status: int = 200,
    notices: list[str] | None = None,
    error: ActionError | None = None,
    values: Mapping[str, str] | None = None,
    enabled: set[str] | None = None,
) -> web.Response:
    t = words(request, shop)
    shown = dict(values or {"sender": shop.sender, "sender_name": shop.sender_name,
                            "language": shop.language})  # fmt: skip
    kinds = kind_actions.kinds_of(shop)
    if enabled is not None:
        kinds = [{**k, "enabled": k["kind"] in enabled} for k in kinds]
    return render(
        request, "settings.html", title=t("settings.title"), t=t, shop=shop, active="settings",
        status=status, notices=notices or [],
        errors=[field_error(t, error.field, str(error))] if error else [],
        error_field=error.field if error else None, values=shown, kinds=kinds,
    )  # fmt: skip


def _text(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
