"""The data each built-in kind takes, typed: checked and converted before any template runs.

A missing amount, a due date that is no date or an amount that is no number is refused here
with the field's name, so a template never sees a blank or a wrong type. Shop-defined kinds
have no schema: their data goes to the template as given and StrictUndefined catches gaps.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import is_currency

from relay.render.errors import RenderError

MAX_TEXT = 500  # characters of one text value (a name, a reference, a note)
MAX_URL = 2000
MAX_AMOUNT = Decimal("1e12")
MAX_DATA_KEYS = 100


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # text | amount | date | integer | url | iban | currency
    required: bool = True


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {_json_type(value)}")
    text = " ".join(value.split())
    if not text:
        raise ValueError("is empty")
    if len(text) > limit:
        raise ValueError(f"has {len(text)} characters; at most {limit}")
    return text


def _amount(value: Any) -> Decimal:
    # JSON numbers arrive as int/float, strings as '1234.56'; bool is an int in Python.
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"must be a number such as 1234.56, not {_json_type(value)}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number; write it as 1234.56") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise ValueError(f"{value!r} is not an amount between 0 and {MAX_AMOUNT:,.0f}")
    return amount


def _date(value: Any) -> datetime.date:
    if not isinstance(value, str):
        raise ValueError(f"must be a date as YYYY-MM-DD, not {_json_type(value)}")
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date as YYYY-MM-DD") from None


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 99:
        raise ValueError(f"must be a whole number from 1 to 99, not {value!r}")
    return value


def _url(value: Any) -> str:
    url = _text(value, MAX_URL)
    # Only web links: a javascript: or data: URL in a button would run in the customer's client.
    if not re.fullmatch(r"https?://[^\s\"'<>]+", url, re.IGNORECASE):
        raise ValueError(f"{url!r} is not an https:// link")
    return url


def _iban(value: Any) -> str:
    """Shown in groups of four (the DIN 5008 / EPC way of printing an IBAN)."""
    compact = "".join(_text(value).split()).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", compact):
        raise ValueError(f"{value!r} is not an IBAN")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _currency(value: Any) -> str:
    code = _text(value).upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or not is_currency(code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code such as EUR")
    return code


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "amount": _amount,
    "date": _date,
    "integer": _integer,
    "url": _url,
    "iban": _iban,
    "currency": _currency,
}

_COMMON = (Field("customer_name", "text", False), Field("currency", "currency", False))
_PAYMENT = (
    Field("amount", "amount"),
    Field("due_date", "date"),
    Field("iban", "iban"),
    Field("bic", "text", False),
    Field("account_holder", "text"),
    Field("reference", "text"),
    Field("payment_link", "url", False),
    Field("order_date", "date", False),
)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "payment-info": (*_COMMON, *_PAYMENT),
    "payment-reminder": (*_COMMON, *_PAYMENT),
    "dunning": (
        *_COMMON,
        *_PAYMENT,
        Field("dunning_level", "integer"),
        Field("fee", "amount", False),
    ),
    "payment-received": (
        *_COMMON,
        Field("amount", "amount"),
        Field("paid_on", "date"),
        Field("payment_method", "text", False),
    ),
    "refund": (
        *_COMMON,
        Field("amount", "amount"),
        Field("refunded_on", "date"),
        Field("refund_method", "text", False),
    ),
}
DEFAULTS = {"currency": "EUR"}


def check_data(kind: str, data: Any, where: str) -> dict[str, Any]:
    """Typed values for `kind` (optional ones absent -> None); RenderError naming the field."""
    if not isinstance(data, Mapping):
        raise RenderError(f"the data must be a JSON object, not {_json_type(data)}", template=where)
    if len(data) > MAX_DATA_KEYS:
        raise RenderError(f"the data has more than {MAX_DATA_KEYS} fields", template=where)
    schema = SCHEMAS.get(kind)
    if schema is None:
        return dict(data)
    known = {f.name for f in schema}
    for name in data:
        if name not in known:
            raise RenderError(
                f"unknown data field {name!r}; {kind} takes: {', '.join(sorted(known))}",
                template=where,
                variable=str(name),
            )
    return {f.name: _field_value(f, data, where) for f in schema}


def _field_value(spec: Field, data: Mapping[str, Any], where: str) -> Any:
    value = data.get(spec.name, DEFAULTS.get(spec.name))
    if value is None or (isinstance(value, str) and not value.strip()):
        if spec.required:
            raise RenderError(
                f"missing value for {spec.name!r} ({spec.type})",
                template=where,
                variable=spec.name,
            )
        return None
    try:
        return CONVERTERS[spec.type](value)
    except ValueError as error:
        raise RenderError(f"{spec.name}: {error}", template=where, variable=spec.name) from None


def _json_type(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list"}
    names.update({dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)
