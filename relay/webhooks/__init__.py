"""Webhooks: the events a shop's software hears about, signed and POSTed (SPEC "API and
webhooks"). This package does no database work; the outbox (written in the transaction of the
event, claimed, retried) builds on it.

- events.py: `message_event(type, MessageFacts, at)`, `opt_out_event(...)`, `escalates(facts)`
  -> `Event`; `Event.body()` is the JSON that is signed and sent.
- schemas.py: the JSON Schema of every event, for the OpenAPI document.
- signing.py: `new_secret()`, `new_webhook_id()`, `signed_headers(...)` (standardwebhooks).
- guard.py + addresses.py: `check_url(url, policy, resolver)` (SSRF) and `policy_from_config`.
- session.py: the aiohttp session that re-checks every address it connects to.
- sender.py: `Sender.send(Delivery) -> SendResult` (delivered / retry / gone / refused).
- schedule.py: `next_attempt(attempts, first_at, now, ...)`, backoff with jitter to max_age.
"""

from relay.webhooks.events import (
    Dsn,
    Event,
    EventType,
    MessageFacts,
    SmtpReply,
    escalates,
    message_event,
    opt_out_event,
)
from relay.webhooks.guard import UrlPolicy, UrlProblem, check_url, policy_from_config
from relay.webhooks.schedule import next_attempt
from relay.webhooks.sender import Delivery, Outcome, Sender, SenderSettings, SendResult
from relay.webhooks.signing import new_secret, new_webhook_id, secret_problem, signed_headers

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
