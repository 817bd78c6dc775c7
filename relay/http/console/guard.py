"""The console's middlewares, outermost first (`body_limit`, then these in order):

1. `refusals`: a missing page, or another shop's order, message or problem, is one 404 page
   (never 403: the answer must not tell that the id exists); a method a route does not take
   (the GET of a form's address) a 405 page; an unexpected error is a 500 page that names
   nothing, and is logged.
2. `body_limit` (outermost: the request it clones is the one the others share): form bodies
   up to MAX_BODY (a header image of 200 KB in a multipart form); the listener's own limit is
   for the opt-out pages' few bytes.
3. `logged_in`: every page but the log-in page and the static files needs a live session
   (relay.http.console.sessions); without one a GET goes to the log-in page (and back after
   it), anything else is refused.
4. `csrf`: every request that can change something (POST, and any method but GET and HEAD)
   carries the session's CSRF token (form field `csrf` or header `X-CSRF-Token`, for fetch),
   compared in constant time; the log-in form carries the token of its own cookie (double
   submit, signed). A browser that says the request is cross-site (Sec-Fetch-Site) is refused
   whatever it carries (OWASP CSRF Prevention Cheat Sheet: token, plus Fetch Metadata).
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from relay.http.console.deps import deps
from relay.http.console.pages import PREFIX, render, words
from relay.http.console.sessions import SESSION, cookie_name, current, unsign

log = logging.getLogger("relay.http.console")

MAX_BODY = 512 * 1024
LOGIN_COOKIE = "relay_console_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = ("GET", "HEAD")
_STATIC = f"{PREFIX}/static/"
_PUBLIC = (f"{PREFIX}/login", _STATIC)


def not_found_page(request: web.Request) -> web.Response:
    t = words(request)
    return render(
        request, "error.html", title=t("error.not_found_title"), t=t, status=404,
        text=t("error.not_found"),
    )  # fmt: skip


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return not_found_page(request)
    except web.HTTPMethodNotAllowed as exc:  # a GET of a form's POST-only address, say
        t = words(request)
        response = render(
            request, "error.html", title=t("error.method_title"), t=t, status=405,
            text=t("error.method"),
        )  # fmt: skip
        response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return response
    except web.HTTPRequestEntityTooLarge:
        t = words(request)
        return render(
            request, "error.html", title=t("error.too_large_title"), t=t, status=413,
            text=t("error.too_large", kb=MAX_BODY // 1024),
        )  # fmt: skip
    except web.HTTPException:
        raise  # redirects and the like are answers, not failures
    except Exception:
        log.exception("console: %s %s failed", request.method, request.rel_url.path)

        t = words(request)
        return render(
            request, "error.html", title=t("error.internal_title"), t=t, status=500,
            text=t("error.internal"),
        )  # fmt: skip


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request.clone(client_max_size=MAX_BODY))


@web.middleware
async def logged_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.rel_url.path
    if path.startswith(_STATIC):  # the style sheet and the script: no session to look up
        return await handler(request)
    session = await current(request)
    if session is not None:
        request[SESSION] = session
    if session is not None or path.startswith(_PUBLIC):
        return await handler(request)
    if request.method in _SAFE_METHODS:
        target = quote(str(request.rel_url), safe="/")
        raise web.HTTPSeeOther(f"{PREFIX}/login?next={target}")
    return refused(request, "error.session")


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in _SAFE_METHODS:
        return await handler(request)
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return refused(request, "error.csrf")
    expected = _expected_token(request)
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()  # kept by the request: the handler reads it again
        field = form.get(CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    if not expected or not presented or not hmac.compare_digest(expected, presented):
        return refused(request, "error.csrf")
    return await handler(request)


def _expected_token(request: web.Request) -> str | None:
    session = request.get(SESSION)
    if session is not None and request.rel_url.path != f"{PREFIX}/login":
        return session.csrf
    return login_token(request)


def login_token(request: web.Request) -> str | None:
    """The log-in form's token: its signed cookie's value, when the signature is ours."""
    d = deps(request)
    value = request.cookies.get(cookie_name(LOGIN_COOKIE, d.secure))
    return value if value and unsign(d.cookie_key, value) is not None else None


def refused(request: web.Request, key: str) -> web.Response:
    t = words(request)
    return render(
        request, "error.html", title=t("error.refused_title"), t=t, status=403, text=t(key),
        login=True,
    )  # fmt: skip
