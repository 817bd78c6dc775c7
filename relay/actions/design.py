"""A shop's design: header image, colours, font, footer, default language (SPEC "Design and
templates"). Every change is validated as a whole by `relay.render.Design` (an image that is no
PNG or JPEG or is over 200 KB, an unreadable colour, a pair below WCAG AA contrast, a font name
that could break out of CSS): the refusal is an ActionError naming the field.

    change = plan_design(conn, shop, {"primary": "#b4153c", "header_image": png_bytes})
    with db.transaction() as tx:
        save(tx, shop.name, change)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from relay.actions.errors import ActionError
from relay.compose import StoredAssets, design_to_store
from relay.model import Shop
from relay.render import Design, RenderError
from relay.render.colours import contrast_ratio
from relay.store import designs as store
from relay.store.sql import Conn, Tx

# What can be changed, by the names of relay.render.Design.create (None: remove the image).
FIELDS = ("header_image", "primary", "text", "background", "font", "footer", "language")


@dataclass(frozen=True)
class DesignChange:
    design: Design
    changed: tuple[str, ...]


def current(conn: Conn, shop: Shop) -> Design:
    """The shop's design; a stored one that no longer validates (edited by hand, or stored by
    a version with other rules) counts as the default, so the next change replaces it."""
    try:
        return StoredAssets(conn).design(shop)
    except RenderError:
        return Design(language=shop.language)


def plan_design(conn: Conn, shop: Shop, changes: dict[str, Any]) -> DesignChange:
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise ActionError(f"the design has no field {unknown[0]!r}", unknown[0])
    before = current(conn, shop)
    try:
        after = before.changed(**changes)
    except RenderError as error:
        raise ActionError(error.reason, error.variable or "design") from None
    changed = tuple(
        name for name, value in after.to_fields().items() if value != before.to_fields()[name]
    )
    return DesignChange(after, changed)


def save(tx: Tx, shop_name: str, change: DesignChange) -> None:
    if change.changed:
        store.save_design(tx, shop_name, design_to_store(change.design), change.changed)


def describe(design: Design) -> dict[str, Any]:
    """The design for people and `--json`: the image by type, size and digest, not its bytes."""
    header = design.header
    return {
        "header_image": None
        if header is None
        else {
            "type": header.mime_type,
            "width": header.width,
            "height": header.height,
            "bytes": len(header.data),
            "sha256": hashlib.sha256(header.data).hexdigest(),
        },
        "primary": design.primary,
        "text": design.text,
        "background": design.background,
        "font": design.font,
        "footer": design.footer,
        "language": design.language,
        "contrast": {
            "text": round(contrast_ratio(design.text, design.background), 2),
            "primary": round(contrast_ratio(design.primary, design.background), 2),
        },
    }
