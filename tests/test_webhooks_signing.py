"""Standard Webhooks signatures: made by our signer, verified by the `standardwebhooks` package
the way a shop's software verifies them."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from relay.webhooks.signing import new_secret, new_webhook_id, secret_problem, signed_headers

BODY = b'{"type":"message.delivered","timestamp":"2026-01-01T10:00:00.000000Z","data":{}}'


def test_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        assert secret_problem(secret) is None


def test_a_signed_request_verifies_with_the_package() -> None:
    secret, webhook_id = new_secret(), new_webhook_id()
    headers = signed_headers(webhook_id, BODY, [secret], int(time.time()))
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "message.delivered",
        "timestamp": "2026-01-01T10:00:00.000000Z",
        "data": {},
    }
    assert headers["webhook-id"] == webhook_id


def test_what_a_verifier_refuses() -> None:
    secret, webhook_id, now = new_secret(), new_webhook_id(), int(time.time())
    headers = signed_headers(webhook_id, BODY, [secret], now)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)  # another shop's secret
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"delivered", b"bounced"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": new_webhook_id()})
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, signed_headers(webhook_id, BODY, [secret], now - 3600))


def test_rotation_signs_with_every_secret() -> None:
    """During a rotation both secrets sign; a receiver holding either one verifies."""
    old, new = new_secret(), new_secret()
    headers = signed_headers(new_webhook_id(), BODY, [new, old], int(time.time()))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)


def test_webhook_ids_are_unique_and_dot_free() -> None:
    ids = {new_webhook_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("msg_") and "." not in i for i in ids)


def test_malformed_ids_and_secrets_are_refused() -> None:
    now = int(time.time())
    with pytest.raises(ValueError, match="webhook id"):
        signed_headers("msg_abc.1700000000", BODY, [new_secret()], now)  # a dot: forgery room
    with pytest.raises(ValueError, match="no webhook secret"):
        signed_headers(new_webhook_id(), BODY, [], now)
    assert "whsec_" in (secret_problem("abc") or "")
    assert "base64" in (secret_problem("whsec_***") or "")
    assert "24 to 64 bytes" in (
        secret_problem("whsec_" + base64.b64encode(b"x" * 8).decode()) or ""
    )
