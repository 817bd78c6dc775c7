"""Log-in and log-out of the shop console.

A shop logs in with its name and its SMTP password, a console user with the shop's name, its
e-mail address and its password (`relay shop user add`). Failed log-ins are throttled by SMTP
AUTH's own throttle (relay.smtp.auth, relay.store.auth): each check takes its place in its
client address's line, starts `submission.auth_failure_delay` after the one before it ended,
doubled per failure of the address (cap 30 s), and counts its failure for the address and the
target (`<shop>` as SMTP AUTH counts it, or `<shop>/<e-mail>` for a console user). So guesses
at the console and at SMTP slow each other down, parallel requests wait in line like one, and a
success clears only its own target's failures from its address. A log-in that would wait more
than LOGIN_WAIT is refused at once with 429 and Retry-After (a browser should not hang on a
request); each failure and refusal is a log line for fail2ban (mechanism CONSOLE).

An unknown shop or user costs the same scrypt as a wrong password, so the time of the answer
does not tell which names exist; the answer is one sentence for every failure.
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

from relay import logs
from relay.actions.console_users import normal_email
from relay.actions.errors import ActionError
from relay.http.console import sessions
from relay.http.console.deps import ConsoleDeps, deps
from relay.http.console.guard import LOGIN_COOKIE, login_token
from relay.http.console.pages import PREFIX, redirect, render, session_of, words
from relay.passwords import hash_password, verify_password
from relay.smtp.admission import client_key
from relay.smtp.auth import Throttled
from relay.store.auth import expected_turn
from relay.store.console_users import find_user, record_login
from relay.store.db import Read
from relay.store.errors import StoreError
from relay.store.shops import get_shop

MAX_FIELD = 320  # an e-mail address at most (RFC 5321 §4.5.3.1); a shop name is shorter
MECHANISM = "CONSOLE"  # in the fail2ban lines, where SMTP names PLAIN or LOGIN


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
    shop = get_shop(conn, shop_name) if shop_name else None
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


def target(shop_name: str, email: str) -> str:
    """What a failure is counted against, besides the address (SMTP AUTH: the shop name)."""
    return f"{shop_name}/{email.lower()}" if email else shop_name


async def show(request: web.Request) -> web.StreamResponse:
    if session_of(request) is not None:
        return redirect(_next(request.query.get("next")))
    return _form(request, notices=_notices(request))


async def submit(request: web.Request) -> web.StreamResponse:
    d = deps(request)
    form = await request.post()
    shop_name, email, password = (_field(form, name) for name in ("shop", "email", "password"))
    wanted, address = _field(form, "next"), request.remote or "?"
    tried = target(shop_name, email)
    t = words(request)
    found: Principal | None = None

    async def check() -> bool:
        nonlocal found
        found = await asyncio.to_thread(verify, d.read, shop_name, email, password)
        return found is not None

    try:
        now = time.time()
        wait = expected_turn(d.read(), client_key(address), d.authenticator.throttle, now) - now
        if wait > d.login_wait:
            raise Throttled(wait)
        await d.authenticator.throttled(address, tried, check)
    except Throttled as throttled:
        logs.auth_failure(address, MECHANISM, tried, refused_for=throttled.wait)
        seconds = max(1, math.ceil(throttled.wait))
        response = _form(
            request, status=429, errors=[t("login.throttled", seconds=seconds)],
            shop_name=shop_name, wanted=wanted,
        )  # fmt: skip
        response.headers["Retry-After"] = str(seconds)
        return response
    except StoreError:  # no throttle, no check (a full disk must not lift the limit)
        return _form(request, status=503, errors=[t("login.unavailable")], shop_name=shop_name)
    if found is None:
        logs.auth_failure(address, MECHANISM, tried)
        return _form(
            request, status=403, errors=[t("login.failed")], shop_name=shop_name, wanted=wanted
        )
    return await _logged_in(request, d, found, wanted)


async def _logged_in(
    request: web.Request, d: ConsoleDeps, found: Principal, wanted: str
) -> web.StreamResponse:
    old = sessions.session_id(request)  # no fixation: whatever came before ends here
    if found.user_id is not None:
        user, now = found.user_id, time.time()
        await d.write(lambda tx: record_login(tx, user, now))
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
