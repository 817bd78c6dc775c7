"""Standard Webhooks signatures ("Verifying webhook authenticity"), made by the
`standardwebhooks` package: HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`.

A shop's secret is `whsec_` + base64 of 32 random bytes (the spec asks for 24 to 64). Several
secrets may sign one request (`webhook-signature: v1,<a> v1,<b>`): that is how a secret is
rotated without downtime, the new one first, the old one until the shop has switched.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
import secrets
from collections.abc import Sequence

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
_MIN_SECRET, _MAX_SECRET = 24, 64  # bytes (Standard Webhooks, "Signature scheme")
# The id is signed inside "{id}.{timestamp}.{body}": no dots, so no field can pose as another.
_WEBHOOK_ID = re.compile(r"msg_[A-Za-z0-9_-]{16,64}")


def new_secret() -> str:
    """A fresh per-shop signing secret in the `whsec_<base64>` form the shop's verifier reads."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_problem(secret: str) -> str | None:
    """What is wrong with a secret given to us (a shop's own, `relay shop webhook`), or None."""
    if not secret.startswith(SECRET_PREFIX):
        return f"a webhook secret starts with {SECRET_PREFIX!r}"
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"a webhook secret is {SECRET_PREFIX!r} followed by base64"
    if not _MIN_SECRET <= len(raw) <= _MAX_SECRET:
        return f"a webhook secret holds {_MIN_SECRET} to {_MAX_SECRET} bytes, not {len(raw)}"
    return None


def new_webhook_id() -> str:
    """The `webhook-id` of one event: made once when the event is written, the same on every
    retry, so the shop can drop repeats (at-least-once delivery)."""
    return "msg_" + secrets.token_urlsafe(18)


def signed_headers(
    webhook_id: str, body: bytes, secrets_: Sequence[str], timestamp: int
) -> dict[str, str]:
    """The three Standard Webhooks headers for one POST of `body`, signed with each secret.

    timestamp: unix seconds of this attempt (a retry is signed anew: receivers refuse
    timestamps more than 5 minutes off, against replays).
    """
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise ValueError(f"webhook id {webhook_id!r}: expected msg_ and 16-64 URL-safe characters")
    if not secrets_:
        raise ValueError("no webhook secret to sign with")
    at = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    text = body.decode("utf-8")  # the package signs text; our bodies are UTF-8 JSON
    signatures = [Webhook(s).sign(webhook_id, at, text) for s in secrets_]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
