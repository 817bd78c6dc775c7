"""The console's language: German and English (SPEC "Shop console").

Which one a page speaks: `?lang=` (the switch on every page; it is remembered in a cookie),
else the remembered choice, else the shop's language, else (before log-in) the browser's
Accept-Language, else German. The words are in relay.http.console.texts; what happened to a
message is worded by relay.explain, as the CLI and the API word it.
"""

from __future__ import annotations

import datetime

from aiohttp import web
from babel.dates import format_datetime

from relay.http.console.texts import TEXTS

LANGUAGES = ("de", "en")
LANGUAGE_NAMES = (("de", "Deutsch"), ("en", "English"))
LANGUAGE_COOKIE = "relay_console_lang"
LANGUAGE_SECONDS = 365 * 86400
_LOCALES = {"de": "de_DE", "en": "en_GB"}
_TIME_FORMATS = {"de": "dd.MM.yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}


class Words:
    """`t("orders.title")`, `t("order.title", order="1001")` in one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "de"
        self.index = LANGUAGES.index(self.language)

    def __call__(self, key: str, **values: object) -> str:
        text = TEXTS[key][self.index]
        return text.format(**values) if values else text

    def when(self, timestamp: float | None) -> str:
        """A time as people of the language write it, in UTC (said so)."""
        if not timestamp:
            return "–"
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
        shown = format_datetime(
            moment,
            _TIME_FORMATS[self.language],
            tzinfo=datetime.UTC,
            locale=_LOCALES[self.language],
        )
        return f"{shown} UTC"

    def percent(self, value: float | None) -> str:
        if value is None:
            return "–"
        shown = f"{value * 100:.2f}"
        return (shown.replace(".", ",") if self.language == "de" else shown) + " %"


def asked_language(request: web.Request) -> str | None:
    """The language the switch asks for on this request (`?lang=`), if it is one we speak."""
    asked = request.query.get("lang")
    return asked if asked in LANGUAGES else None


def page_language(request: web.Request, shop_language: str | None) -> str:
    chosen = asked_language(request) or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen  # type: ignore[return-value]
    if shop_language in LANGUAGES:
        return shop_language  # type: ignore[return-value]
    return _from_browser(request.headers.get("Accept-Language", ""))


def _from_browser(header: str) -> str:
    """The first of de/en in Accept-Language by weight (RFC 9110 §12.5.4); German otherwise."""
    best, weight = "de", -1.0
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if primary in LANGUAGES and q > weight:
            best, weight = primary, q
    return best


def remember(request: web.Request, response: web.StreamResponse, secure: bool) -> None:
    """Keep the switch's choice (a preference, not a secret: readable, a year long)."""
    asked = asked_language(request)
    if asked is not None and request.cookies.get(LANGUAGE_COOKIE) != asked:
        response.set_cookie(
            LANGUAGE_COOKIE,
            asked,
            max_age=LANGUAGE_SECONDS,
            path="/console",
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
