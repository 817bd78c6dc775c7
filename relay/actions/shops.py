"""Change or remove a shop (SPEC "Shops": everything `shop add` sets can be changed later).

The checks here are the ones `relay shop add` makes too (one rule each): a domain must be one
the shop can publish DNS records for (never a public mailbox domain), the sender address must
be at one of the shop's domains or be a public mailbox address it names on purpose (sent
through the fallback identity), a password has at least 12 characters.

    update = plan_update(conn, "mein-shop", sender_name="Möbel Müller", add_domains=("x.de",))
    with db.transaction() as tx:
        apply_update(tx, update)           # the next message sees it (shops version)
    remove(tx, "mein-shop")                # credentials and sessions stop at once
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, replace

from dns_checks import (
    InvalidDomain,
    is_public_mailbox_domain,
    public_mailbox_reason,
    to_ascii_domain,
)
from relay.actions.errors import ActionError
from relay.model import Shop
from relay.passwords import generate_password, hash_password
from relay.store import shops as store
from relay.store.sql import Conn, Tx

LANGUAGES = ("de", "en")
# SMTP AUTH is throttled, but a password leaked with its hash is guessed offline: 12 characters
# of a generated password (or a passphrase) are out of reach, 8 are not.
MIN_PASSWORD = 12
MAX_SENDER_NAME = 200  # what a rendered From takes (relay.render.mime)


@dataclass(frozen=True)
class ShopUpdate:
    shop: Shop  # the record as it will be stored
    changed: tuple[str, ...]  # field names, for the event and the output
    new_password: str | None = None  # generated here: show it once, never store it
    added_domains: tuple[str, ...] = ()


def check_domain(domain: str) -> str:
    """The A-label of a domain the shop can send as (refused: public mailbox domains)."""
    try:
        ascii_domain = to_ascii_domain(domain)
    except InvalidDomain as error:
        raise ActionError(str(error), "domain") from None
    refusal = public_mailbox_reason(ascii_domain)
    if refusal:
        raise ActionError(
            f"{refusal}: use the shop's own domain; the shop may still send from its address"
            " there by naming it as the sender (its mail then goes out from the relay's"
            " fallback address)",
            "domain",
        )
    return ascii_domain


def check_sender(sender: str, domains: tuple[str, ...]) -> str:
    """At one of `domains`, or a public mailbox address (gmail.com, ...) named on purpose."""
    local, at, domain = sender.strip().rpartition("@")
    if not at or not local or any(c.isspace() or c in "<>,;" for c in sender.strip()):
        raise ActionError(f"{sender!r} is not an e-mail address", "sender")
    try:
        ascii_domain = to_ascii_domain(domain)
    except InvalidDomain as error:
        raise ActionError(str(error), "sender") from None
    if ascii_domain not in domains and not is_public_mailbox_domain(ascii_domain):
        raise ActionError(
            f"{sender} is not at the shop's domains ({', '.join(domains)}); add the domain"
            f" (--domain {ascii_domain}), or use an address at one of them",
            "sender",
        )
    return f"{local}@{ascii_domain}"


def check_not_another_shops(conn: Conn, name: str, sender: str, sender_name: str) -> None:
    """Refuse an identity another shop's mail already carries (SPEC: no shop sends under
    another shop's name). In fallback mode a customer tells shops apart only by the display
    name and by a public mailbox sender in Reply-To, and since the console lets each shop set
    both, one shop could otherwise copy another's From and Reply-To exactly (review 3)."""
    public = is_public_mailbox_domain(sender.rpartition("@")[2])
    for other in store.list_shops(conn):
        if other.name == name:
            continue
        if public and other.sender.lower() == sender.lower():
            raise ActionError(
                f"{sender} is the sender of another shop; use the shop's own address", "sender"
            )
        if _same_name(other.sender_name, sender_name):
            raise ActionError(
                f"another shop sends as {other.sender_name!r}; choose a name that tells this"
                " shop apart",
                "sender_name",
            )


def _same_name(a: str, b: str) -> bool:
    def folded(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

    return folded(a) == folded(b)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ActionError(
            f"the password has {len(password)} characters; use at least {MIN_PASSWORD}"
            " characters, or leave it out and a strong one is generated",
            "password",
        )


def check_sender_name(name: str) -> str:
    text = " ".join(name.split())
    if not text or len(text) > MAX_SENDER_NAME or any(ord(c) < 32 for c in name):
        raise ActionError(
            f"the sender name must be one line of 1 to {MAX_SENDER_NAME} characters",
            "sender_name",
        )
    return text


def plan_update(
    conn: Conn,
    name: str,
    *,
    sender: str | None = None,
    sender_name: str | None = None,
    language: str | None = None,
    add_domains: tuple[str, ...] = (),
    remove_domains: tuple[str, ...] = (),
    password: str | None = None,
    new_password: bool = False,
) -> ShopUpdate:
    """The shop as it will be after these changes, every change checked; nothing written."""
    shop = _existing(conn, name)
    added = tuple(d for d in (check_domain(x) for x in add_domains) if d not in shop.domains)
    removed = {_a_label(d) for d in remove_domains}
    unknown = sorted(removed - set(shop.domains))
    if unknown:
        raise ActionError(f"{unknown[0]} is not one of the shop's domains", "domain")
    domains = tuple(d for d in shop.domains if d not in removed) + added
    if not domains:
        raise ActionError("a shop needs at least one domain; add the new one first", "domain")
    changes: dict[str, object] = {"domains": domains} if domains != shop.domains else {}
    if sender is not None:
        changes["sender"] = check_sender(sender, domains)
    elif changes:
        changes["sender"] = _sender_still_valid(shop.sender, domains)
    if sender_name is not None:
        changes["sender_name"] = check_sender_name(sender_name)
    new_sender = str(changes.get("sender", shop.sender))
    new_name = str(changes.get("sender_name", shop.sender_name))
    if (new_sender, new_name) != (shop.sender, shop.sender_name):
        check_not_another_shops(conn, name, new_sender, new_name)
    if language is not None:
        if language not in LANGUAGES:
            raise ActionError(f"language {language!r} is not one of de, en", "language")
        changes["language"] = language
    generated = generate_password() if new_password and password is None else None
    if password is not None:
        check_password(password)
    if password is not None or generated is not None:
        changes["password_hash"] = hash_password(password or generated or "")
    changed = tuple(
        "password" if key == "password_hash" else key
        for key, value in changes.items()
        if key == "password_hash" or value != getattr(shop, key)
    )
    return ShopUpdate(replace(shop, **changes), changed, generated, added)  # type: ignore[arg-type]


def apply_update(tx: Tx, update: ShopUpdate, now: float | None = None) -> None:
    if not update.changed:
        return
    if not store.update_shop(tx, update.shop, update.changed, now or time.time()):
        raise ActionError(f"shop {update.shop.name!r} was removed meanwhile", "shop")


def remove(tx: Tx, name: str, now: float | None = None) -> None:
    """Credentials stop at once (the next AUTH, and DATA of sessions already logged in: the
    submission path finds no shop); design, templates and DNS verdicts go; history stays."""
    if not store.remove_shop(tx, name, now or time.time()):
        raise ActionError(f"no shop {name!r}; `relay shop list` shows the shops", "shop")


def _sender_still_valid(sender: str, domains: tuple[str, ...]) -> str:
    try:
        return check_sender(sender, domains)
    except ActionError:
        raise ActionError(
            f"the sender {sender} is at a domain that would be removed; name a new --sender in"
            " the same command",
            "domain",
        ) from None


def _existing(conn: Conn, name: str) -> Shop:
    shop = store.get_shop(conn, name)
    if shop is None:
        raise ActionError(f"no shop {name!r}; `relay shop list` shows the shops", "shop")
    return shop


def _a_label(domain: str) -> str:
    try:
        return to_ascii_domain(domain)
    except InvalidDomain:
        return domain.strip().rstrip(".").lower()
