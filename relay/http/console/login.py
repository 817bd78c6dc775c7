"""Log-in and log-out of the shop console.

A shop logs in with its name and its SMTP password, a console user with the shop's name, its
e-mail address and its password (`relay shop user add`). Failed log-ins are throttled like
SMTP AUTH and in the same store (relay.store.auth): a growing delay, doubled per failure up
to 30 s, counted per client address (the key SMTP AUTH counts under, so guesses on either
way in slow down both) and per target (`console:<shop>` or `console:<shop>/<e-mail>`, so
guesses spread over many addresses slow down too). While a delay runs, a log-in is refused
with 429 before any password is checked. A quarter hour without failures forgets them.

An unknown shop or user costs the same scrypt as a wrong password, so the time of the
answer does not tell which names exist; the answer is one sentence for every failure.
"""

from __future__ import annotations

import asyncio
import functools
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from relay.actions.console_users import normal_email
from relay.actions.errors import ActionError
from relay.http.console import sessions
from relay.http.console.deps import ConsoleDeps, deps
from relay.http.console.guard import LOGIN_COOKIE, login_token
from relay.http.console.pages import PREFIX, redirect, render, session_of, words
from relay.passwords import hash_password, verify_password
from relay.store.auth import auth_failures, record_auth
from relay.store.console_users import find_user, record_login
from relay.store.db import Read
from relay.store.shops import get_shop
from relay.store.sql import Conn, Tx

MAX_DELAY = 30.0
FORGET_AFTER = 900.0  # as relay.smtp.auth
MAX_FIELD = 320  # an e-mail address at most (RFC 5321 §4.5.3.1); a shop name is shorter


@dataclass(frozen=True)
class Principal:
    shop: str
    user_id: int | None
    password_hash: str


@functools.cache
def _nobody_hash() -> str:
    """A hash of a random password, checked in place of an unknown shop or user (made at the
    first log-in, not at start-up: scrypt costs 16 MiB and ~50 ms)."""
    return hash_password(secrets.token_urlsafe(24))


def verify(read: Read, shop_name: str, email: str, password: str) -> Principal | None:
    """Blocking (scrypt, ~50 ms): run it in a thread (`read` gives that thread's handle)."""
    conn = read()
    shop = get_shop(conn, shop_name)
    user = None
    if shop is not None and email:
        try:
            user = find_user(conn, shop.name, normal_email(email))
        except ActionError:
            user = None
    stored = (user.password_hash if user else None) if email else (shop and shop.password_hash)
    ok = verify_password(password, stored or _nobody_hash())
    if not ok or shop is None or stored is None:
        return None
    return Principal(shop.name, user.id if user else None, stored)


def throttle_keys(remote: str, shop: str, email: str) -> list[str]:
    target = f"console:{shop}/{email.lower()}" if email else f"console:{shop}"
    return [remote, target[:MAX_FIELD]]


def wait_seconds(conn: Conn, keys: list[str], base: float, now: float) -> float:
    """How long a log-in for these keys must still wait (0: it may try now)."""
    wait = 0.0
    for key in keys:
        found = auth_failures(conn, key)
        if found is None or base <= 0 or now - found[1] > FORGET_AFTER:
            continue
        count, last = found
        wait = max(wait, last + min(MAX_DELAY, base * 2 ** (count - 1)) - now)
    return wait


async def show(request: web.Request) -> web.StreamResponse:
    if session_of(request) is not None:
        return redirect(_next(request.query.get("next")))
    return _form(request, notices=_notices(request))


async def submit(request: web.Request) -> web.StreamResponse:
    d = deps(request)
    form = await request.post()
    shop_name, email, password = (_field(form, name) for name in ("shop", "email", "password"))
    keys = throttle_keys(request.remote or "?", shop_name, email)
    wait = wait_seconds(d.read(), keys, d.auth_delay, time.time())
    t = words(request)
    if wait > 0:
        seconds = math.ceil(wait)
        response = _form(
            request, status=429, errors=[t("login.throttled", seconds=seconds)],
            shop_name=shop_name, wanted=_field(form, "next"),
        )  # fmt: skip
        response.headers["Retry-After"] = str(seconds)
        return response
    found = None
    if shop_name and password:
        found = await asyncio.to_thread(verify, d.read, shop_name, email, password)
    if found is None:
        await d.write(lambda tx: [record_auth(tx, k, True, FORGET_AFTER) for k in keys])
        return _form(
            request, status=403, errors=[t("login.failed")], shop_name=shop_name,
            wanted=_field(form, "next"),
        )  # fmt: skip
    return await _logged_in(request, d, found, keys, _field(form, "next"))


async def _logged_in(
    request: web.Request, d: ConsoleDeps, found: Principal, keys: list[str], wanted: str
) -> web.StreamResponse:
    old = sessions.session_id(request)  # no fixation: whatever came before ends here
    now = time.time()

    def forget(tx: Tx) -> None:
        for key in keys:
            record_auth(tx, key, False, FORGET_AFTER)
        if found.user_id is not None:
            record_login(tx, found.user_id, now)

    await d.write(forget)
    if old is not None:
        await sessions.end(d, old)
    value, _session = await sessions.start(d, found.shop, found.user_id, found.password_hash)
    response = redirect(_next(wanted))
    sessions.set_cookie(response, d, sessions.SESSION_COOKIE, value)
    sessions.clear_cookie(response, d, LOGIN_COOKIE)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    d = deps(request)
    found = sessions.session_id(request)
    if found is not None:
        await sessions.end(d, found)
    response = redirect(f"{PREFIX}/login?bye=1")
    sessions.clear_cookie(response, d, sessions.SESSION_COOKIE)
    return response


def _form(
    request: web.Request,
    *,
    status: int = 200,
    notices: list[str] | None = None,
    errors: list[str] | None = None,
    shop_name: str = "",
    wanted: str | None = None,
) -> web.Response:
    d, t = deps(request), words(request)
    token = login_token(request)
    fresh = token is None
    if fresh:
        token = sessions.sign(d.cookie_key, secrets.token_bytes(32))
    response = render(
        request, "login.html", title=t("login.title"), t=t, status=status,
        notices=notices or [], errors=errors or [], csrf=token, shop_name=shop_name,
        next=_next(wanted or request.query.get("next")),
    )  # fmt: skip
    if fresh:
        sessions.set_cookie(response, d, LOGIN_COOKIE, token)
    return response


def _notices(request: web.Request) -> list[str]:
    return [words(request)("login.bye")] if request.query.get("bye") == "1" else []


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip()[:MAX_FIELD] if isinstance(value, str) else ""


def _next(wanted: str | None) -> str:
    """Where to go after log-in: a console path of ours only (never another site)."""
    if not wanted:
        return f"{PREFIX}/"
    parts = urlsplit(wanted)
    path = parts.path
    if parts.scheme or parts.netloc or "\\" in wanted or not path.startswith(f"{PREFIX}/"):
        return f"{PREFIX}/"
    if path.startswith(f"{PREFIX}/login"):
        return f"{PREFIX}/"
    return path + (f"?{parts.query}" if parts.query else "")
