"""A shop's design (one row: fields as JSON, the header image as bytes) and its own templates
(one row per kind and language: the template file as text).

The store keeps them as plain text and bytes; turning them into `relay.render` objects (and
validating them again) is `relay.compose`'s work. `digest` names one version of a design, so
that a reader can keep the validated object and ask only for the digest next time. Every
change bumps the shops version (relay.store.shops) and is a `shop-changed` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relay.model import EventKind
from relay.store.events import add_event
from relay.store.shops import bump_shops_version
from relay.store.sql import Conn, Tx, changed, execute, row, rows, value


@dataclass(frozen=True)
class StoredDesign:
    fields: str  # JSON of relay.render.Design's fields, without the image
    header_image: bytes | None
    digest: str
    updated_at: float


@dataclass(frozen=True)
class StoredTemplate:
    kind: str
    language: str
    source: str  # the template file (relay.render.TemplateSource.from_file_text)
    updated_at: float


def design_digest(conn: Conn, shop: str) -> str | None:
    """The digest of the shop's stored design (None: the shop has none yet). Cheap: no image."""
    found = value(conn, "SELECT digest FROM shop_designs WHERE shop = ?", (shop,))
    return str(found) if found is not None else None


def get_design(conn: Conn, shop: str) -> StoredDesign | None:
    found: Any = row(conn, "SELECT * FROM shop_designs WHERE shop = ?", (shop,))
    if found is None:
        return None
    image = found["header_image"]
    return StoredDesign(
        found["fields"],
        bytes(image) if image is not None else None,
        found["digest"],
        found["updated_at"],
    )


def save_design(
    tx: Tx,
    shop: str,
    design: StoredDesign,
    changed_fields: tuple[str, ...],
) -> None:
    execute(
        tx,
        "INSERT INTO shop_designs (shop, fields, header_image, digest, updated_at)"
        " VALUES (?,?,?,?,?) ON CONFLICT (shop) DO UPDATE SET fields = excluded.fields,"
        " header_image = excluded.header_image, digest = excluded.digest,"
        " updated_at = excluded.updated_at",
        (shop, design.fields, design.header_image, design.digest, design.updated_at),
    )
    add_event(
        tx, EventKind.SHOP_CHANGED, shop=shop, at=design.updated_at, design=list(changed_fields)
    )
    bump_shops_version(tx)


def get_template(conn: Conn, shop: str, kind: str, language: str) -> StoredTemplate | None:
    found: Any = row(
        conn,
        "SELECT kind, language, source, updated_at FROM shop_templates"
        " WHERE shop = ? AND kind = ? AND language = ?",
        (shop, kind, language),
    )
    return StoredTemplate(**dict(found)) if found else None


def list_templates(conn: Conn, shop: str) -> list[StoredTemplate]:
    found = rows(
        conn,
        "SELECT kind, language, source, updated_at FROM shop_templates WHERE shop = ?"
        " ORDER BY kind, language",
        (shop,),
    )
    return [StoredTemplate(**dict(r)) for r in found]


def save_template(tx: Tx, shop: str, template: StoredTemplate) -> None:
    execute(
        tx,
        "INSERT INTO shop_templates (shop, kind, language, source, updated_at) VALUES (?,?,?,?,?)"
        " ON CONFLICT (shop, kind, language) DO UPDATE SET source = excluded.source,"
        " updated_at = excluded.updated_at",
        (shop, template.kind, template.language, template.source, template.updated_at),
    )
    add_event(
        tx,
        EventKind.SHOP_CHANGED,
        shop=shop,
        at=template.updated_at,
        template=f"{template.kind}/{template.language}",
    )
    bump_shops_version(tx)


def delete_template(tx: Tx, shop: str, kind: str, language: str, now: float) -> bool:
    """Back to the default template; False when the shop had no template of its own."""
    done = changed(
        tx,
        "DELETE FROM shop_templates WHERE shop = ? AND kind = ? AND language = ?",
        (shop, kind, language),
    )
    if done:
        add_event(
            tx, EventKind.SHOP_CHANGED, shop=shop, at=now, template=f"{kind}/{language}", reset=True
        )
        bump_shops_version(tx)
    return bool(done)
