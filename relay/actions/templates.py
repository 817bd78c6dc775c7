"""A shop's own template for one kind and language (SPEC "Design and templates").

A template is checked before it is stored (`relay.render.check_template`: it compiles, names
only the variables of its kind, and renders the kind's sample data in the shop's design), so
a shop never learns of a broken template from a customer's missing mail. The refusal is the
RenderError itself: it names the template, the line and the variable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from relay.actions.errors import ActionError
from relay.compose import StoredAssets
from relay.model import Shop
from relay.render import LANGUAGES, TemplateSource, check_template, default_template
from relay.store import designs as store
from relay.store.sql import Conn, Tx


@dataclass(frozen=True)
class Effective:
    template: TemplateSource
    own: bool  # the shop's own (else the shipped default)


def language_for(conn: Conn, shop: Shop, language: str | None) -> str:
    """The language asked for, else the design's default language (else the shop's)."""
    chosen = language or StoredAssets(conn).design(shop).language
    if chosen not in LANGUAGES:
        raise ActionError(f"language {chosen!r} is not one of {', '.join(LANGUAGES)}", "language")
    return chosen


def check_kind(shop: Shop, kind: str) -> None:
    if kind not in shop.kinds:
        known = ", ".join(sorted(shop.kinds))
        raise ActionError(f"unknown kind {kind!r}; this shop knows: {known}", "kind")


def effective(conn: Conn, shop: Shop, kind: str, language: str) -> Effective:
    """What renders this kind and language now. RenderError for a custom kind without one."""
    check_kind(shop, kind)
    assets = StoredAssets(conn)
    if assets.has_own_template(shop, kind, language):
        return Effective(assets.template(shop, kind, language), True)
    return Effective(default_template(kind, language), False)


def plan_template(conn: Conn, shop: Shop, kind: str, language: str, text: str) -> TemplateSource:
    """The shop's template file, parsed and checked (RenderError names template, line and
    variable); nothing written."""
    check_kind(shop, kind)
    template = TemplateSource.from_file_text(kind, language, text)
    check_template(template, StoredAssets(conn).design(shop))
    return template


def save(tx: Tx, shop: Shop, template: TemplateSource) -> None:
    stored = store.StoredTemplate(
        template.kind, template.language, template.to_file_text(), time.time()
    )
    store.save_template(tx, shop.name, stored)


def reset(tx: Tx, shop: Shop, kind: str, language: str) -> bool:
    """Back to the default; False when the shop had no template of its own for it."""
    return store.delete_template(tx, shop.name, kind, language, time.time())
