"""Console users of a shop: `relay shop user add|list|remove SHOP [EMAIL]`.

A shop logs in to its console with its own name and SMTP password, or as a console user the
admin creates here, so that staff need not share the SMTP credentials. The password is
generated and shown once (like `relay shop add`'s): nobody types a password on a command line
where the shell history keeps it. `--new-password` gives an existing user a new one; that,
and removing the user, ends the user's open sessions at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import email_validator

from relay.actions.errors import ActionError, NotFound
from relay.passwords import generate_password, hash_password
from relay.store import console_users as store
from relay.store.db import Write
from relay.store.shops import get_shop
from relay.store.sql import Conn


@dataclass(frozen=True)
class UserInfo:
    shop: str
    email: str
    created_at: float
    last_login_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "shop": self.shop,
            "email": self.email,
            "created_at": self.created_at,
            "last_login_at": self.last_login_at,
        }


@dataclass(frozen=True)
class NewPassword:
    user: UserInfo
    password: str  # shown once, stored only as a hash
    created: bool  # a new user (else a new password for an existing one)


def _info(user: store.ConsoleUser) -> UserInfo:
    return UserInfo(user.shop, user.email, user.created_at, user.last_login_at)


def normal_email(email: str) -> str:
    """The address as users are stored: checked, lower-case (syntax only, no DNS)."""
    try:
        valid = email_validator.validate_email(email.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ActionError(f"{email!r} is not an e-mail address: {exc}", "email") from None
    return valid.normalized.lower()


def _known_shop(conn: Conn, shop: str) -> None:
    if get_shop(conn, shop) is None:
        raise NotFound(f"no shop {shop!r}; `relay shop list` shows the shops", "shop")


async def add_user(
    conn: Conn, write: Write, shop: str, email: str, *, new_password: bool = False
) -> NewPassword:
    """A new console user with a generated password; with `new_password`, a new password for
    an existing one (its sessions end)."""
    _known_shop(conn, shop)
    address = normal_email(email)
    existing = store.find_user(conn, shop, address)
    password = generate_password()
    hashed = hash_password(password)
    if existing is not None:
        if not new_password:
            raise ActionError(
                f"shop {shop} has a console user {address} already; add --new-password to give"
                " it a new password (its sessions end)",
                "email",
                code="exists",
            )
        await write(lambda tx: store.set_password(tx, existing.id, hashed))
        return NewPassword(_info(existing), password, created=False)
    if new_password:
        raise NotFound(f"shop {shop} has no console user {address}", "email")
    now = time.time()
    await write(lambda tx: store.insert_user(tx, shop, address, hashed, now))
    return NewPassword(UserInfo(shop, address, now, None), password, created=True)


def list_users(conn: Conn, shop: str) -> list[UserInfo]:
    _known_shop(conn, shop)
    return [_info(u) for u in store.shop_users(conn, shop)]


async def remove_user(conn: Conn, write: Write, shop: str, email: str) -> UserInfo:
    """Remove a console user; its sessions end at once."""
    _known_shop(conn, shop)
    address = normal_email(email)
    found = store.find_user(conn, shop, address)
    if found is None:
        raise NotFound(
            f"shop {shop} has no console user {address}; `relay shop user list {shop}` shows them",
            "email",
        )
    await write(lambda tx: store.delete_user(tx, found.id))
    return _info(found)
