"""Which notification kinds a shop sends: `relay shop kinds SHOP [--enable K] [--disable K]
[--add K[:optional]]` and the console's settings page. A disabled kind is stored `suppressed`
with the reason `kind-disabled` (SPEC "Notification kinds")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from relay.actions.errors import ActionError
from relay.kinds import BUILTIN_KINDS, IMPLICIT_KIND
from relay.model import Shop
from relay.store import shops as store
from relay.store.sql import Conn, Tx

_KIND_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class KindsChange:
    shop: str
    disabled: frozenset[str]
    custom: dict[str, bool]  # name -> the customer may opt out
    changed: bool


def kinds_of(shop: Shop) -> list[dict[str, Any]]:
    """The kinds a shop can switch, each with whether it is optional and enabled."""
    return [
        {"kind": k.name, "optional": k.optional, "enabled": k.name not in shop.kinds_disabled}
        for k in shop.kinds.values()
        if k.name != IMPLICIT_KIND
    ]


def plan_kinds(
    conn: Conn,
    name: str,
    *,
    enable: Iterable[str] = (),
    disable: Iterable[str] = (),
    add_custom: Iterable[str] = (),
) -> KindsChange:
    """The kinds after the change, every name checked; nothing written. `add_custom` takes
    `name` or `name:optional`."""
    shop = store.get_shop(conn, name)
    if shop is None:
        raise ActionError(f"no shop {name!r}; `relay shop list` shows the shops", "shop")
    custom = dict(shop.custom_kinds)
    for spec in add_custom:
        kind, _, flag = spec.partition(":")
        if not _KIND_NAME.match(kind) or kind in BUILTIN_KINDS:
            raise ActionError(f"{kind!r} is not a new kind name", "add")
        custom[kind] = flag == "optional"
    enable, disable = set(enable), set(disable)
    known = set(BUILTIN_KINDS) | set(custom)
    for kind in sorted(enable | disable):
        if kind not in known:
            raise ActionError(f"unknown kind {kind!r}; known: {', '.join(sorted(known))}", "kind")
    disabled = frozenset((set(shop.kinds_disabled) | disable) - enable)
    changed = disabled != shop.kinds_disabled or custom != shop.custom_kinds
    return KindsChange(shop.name, disabled, custom, changed)


def save(tx: Tx, change: KindsChange) -> None:
    if change.changed:
        store.set_kinds(tx, change.shop, change.disabled, change.custom)
