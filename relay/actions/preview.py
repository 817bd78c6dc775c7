"""What the customer will see: a kind rendered in the shop's design (or one being edited) with
the kind's sample data, the shop's own template where it has one. `relay preview` writes it to
a file; the console's design page shows it beside the settings (relay.preview.preview_html)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from relay.actions import templates as template_actions
from relay.compose import StoredAssets
from relay.model import Shop
from relay.render import Design, Parts, render_parts, sample_data, sample_envelope
from relay.store.sql import Conn


@dataclass(frozen=True)
class Preview:
    parts: Parts
    kind: str
    language: str
    reference: str  # the template that rendered it ('payment-reminder/de default 3f2a...')


def render_preview(
    conn: Conn,
    shop: Shop,
    kind: str,
    language: str | None = None,
    *,
    design: Design | None = None,
    data: Any = None,
) -> Preview:
    """Raises ActionError (unknown kind or language) or RenderError (the template or the data)."""
    chosen = template_actions.language_for(conn, shop, language)
    found = template_actions.effective(conn, shop, kind, chosen)
    values = data if data is not None else sample_data(kind, chosen)
    envelope = replace(sample_envelope(chosen), sender=shop.sender, sender_name=shop.sender_name)
    shown = design if design is not None else StoredAssets(conn).design(shop)
    parts = render_parts(shown, found.template, values, envelope)
    return Preview(parts, kind, chosen, found.template.reference)
