"""Webhooks: the events a shop's software hears about, signed and POSTed (SPEC "API and
webhooks"). The outbox rows are written by the store with each event (relay.store.outcomes);
this package builds, signs and sends them.

- events.py: `message_event(type, MessageFacts, at)`, `opt_out_event(...)`, `escalates(facts)`
  -> `Event`; `Event.body()` is the JSON that is signed and sent.
- schemas.py: the JSON Schema of every event, for the OpenAPI document.
- signing.py: `new_secret()`, `new_webhook_id()`, `signed_headers(...)` (standardwebhooks).
- guard.py + addresses.py: `check_url(url, policy, resolver)` (SSRF) and `policy_from_config`.
- session.py: the aiohttp session that re-checks every address it connects to.
- sender.py: `Sender.send(Delivery) -> SendResult` (delivered / retry / gone / refused).
- schedule.py: `next_attempt(attempts, first_at, now, ...)`, backoff with jitter to max_age.
- outbox.py: `OutboxWorker`, which claims outbox rows, sends them and records the results.
- vault.py: `Vault`, the signing secrets sealed for the database.
- running.py: the worker and the API's webhook dependencies made from relay.toml.
"""

import importlib
from typing import Any

# Where each public name lives. Imported on first use (PEP 562): the store writes outbox rows
# with events.py on every delivery result, and must not pull aiohttp (sender.py) into every
# CLI command and writer that only needs the pure parts.
_HOMES = {
    "Dsn": "events",
    "Event": "events",
    "EventType": "events",
    "MessageFacts": "events",
    "SmtpReply": "events",
    "escalates": "events",
    "message_event": "events",
    "opt_out_event": "events",
    "UrlPolicy": "guard",
    "UrlProblem": "guard",
    "check_url": "guard",
    "policy_from_config": "guard",
    "next_attempt": "schedule",
    "Delivery": "sender",
    "Outcome": "sender",
    "Sender": "sender",
    "SenderSettings": "sender",
    "SendResult": "sender",
    "new_secret": "signing",
    "new_webhook_id": "signing",
    "secret_problem": "signing",
    "signed_headers": "signing",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'relay.webhooks' has no attribute {name!r}")
    return getattr(importlib.import_module(f"relay.webhooks.{home}"), name)


__all__ = [
    "Delivery",
    "Dsn",
    "Event",
    "EventType",
    "MessageFacts",
    "Outcome",
    "SendResult",
    "Sender",
    "SenderSettings",
    "SmtpReply",
    "UrlPolicy",
    "UrlProblem",
    "check_url",
    "escalates",
    "message_event",
    "new_secret",
    "new_webhook_id",
    "next_attempt",
    "opt_out_event",
    "policy_from_config",
    "secret_problem",
    "signed_headers",
]
