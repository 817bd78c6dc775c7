"""Numbers, dates and money per language, by Babel (CLDR data): the template filters.

`{{ amount | money }}` gives '1.234,56 €' in German and '€1,234.56' in English; the currency
comes from the data's `currency` (EUR by default). Values arriving as JSON text (shop-defined
kinds have no schema) are converted the same way the schema converts them.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context, Undefined

from relay.render.errors import RenderError
from relay.render.fields import CONVERTERS

# One CLDR locale per template language; en_GB writes '15 July 2025' and '€1,234.56'.
LOCALES = {"de": "de_DE", "en": "en_GB"}


@pass_context
def money(context: Context, value: Any, currency: str | None = None) -> str:
    amount = _convert("amount", value, "money")
    code = CONVERTERS["currency"](currency or context.get("currency") or "EUR")
    return _currency(amount, code, _locale(context))


@pass_context
def date(context: Context, value: Any, style: str = "long") -> str:
    if style not in ("short", "medium", "long", "full"):
        raise RenderError(f"date style {style!r} is not short, medium, long or full")
    day = value if isinstance(value, datetime.date) else _convert("date", value, "date")
    return _date(day, style, _locale(context))


@pass_context
def number(context: Context, value: Any) -> str:
    return format_decimal(_convert("amount", value, "number"), locale=_locale(context))


FILTERS = {"money": money, "date": date, "number": number}


# A message prints the same amount and date several times (subject, HTML, text); Babel
# builds the pattern each time, so remember recent results.
@lru_cache(maxsize=4096)
def _currency(amount: Decimal, code: str, locale: str) -> str:
    return format_currency(amount, code, locale=locale)


@lru_cache(maxsize=4096)
def _date(day: datetime.date, style: str, locale: str) -> str:
    return format_date(day, style, locale=locale)


def _convert(kind: str, value: Any, filter_name: str) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here: "'amount' is undefined", with its name
    if kind == "amount" and isinstance(value, Decimal):
        return value
    try:
        return CONVERTERS[kind](value)
    except ValueError as error:
        raise RenderError(f"filter {filter_name}: the value {error}") from None


def _locale(context: Context) -> str:
    return LOCALES.get(context.get("language", "en"), "en_GB")
