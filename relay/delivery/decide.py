"""From an attempt to the recipient's next state (SPEC.md "Delivery" table)."""

import random
from dataclasses import dataclass

from bounces.classify import classify
from relay.delivery.outcome import Reply
from relay.model import State


@dataclass(frozen=True)
class Decision:
    state: State  # one of relay.model.ATTEMPT_OUTCOMES
    reason: str | None  # Sisimai reason name, or "expired"
    next_attempt_at: float | None
    block_address: bool  # the reply proves the address dead


def decide(
    reply: Reply,
    attempts: int,
    first_try: float,
    now: float,
    schedule: tuple[float, ...],
    max_age: float,
    *,
    never_works: bool = False,
) -> Decision:
    """`attempts` counts this one. `never_works`: DNS says the domain can never take mail."""
    if 200 <= reply.code < 300:
        return Decision(State.DELIVERED, None, None, False)
    verdict = classify(reply.code, reply.status, reply.text, command=reply.command)
    # A permanent finding of the relay's own (no SMTPUTF8 at the server, say) was never sent:
    # failed, like a domain that cannot take mail, not bounced by a server.
    if never_works or (reply.synthetic and reply.code >= 500):
        return Decision(State.FAILED, verdict.reason, None, False)
    if reply.code >= 500:
        return Decision(State.BOUNCED, verdict.reason, None, verdict.dead_address)
    give_up_at = first_try + max_age
    if now >= give_up_at:
        # RFC 5321 4.5.4.1: give up after the queue lifetime; the last error stays recorded.
        return Decision(State.BOUNCED, "expired", None, False)
    # The last try falls at the end of the lifetime, not a whole retry interval before it.
    next_try = min(now + retry_delay(schedule, attempts), give_up_at)
    return Decision(State.DEFERRED, verdict.reason, next_try, False)


def retry_delay(schedule: tuple[float, ...], attempts: int) -> float:
    """The wait after the n-th failed try, with +-10 % jitter so retries do not march in step."""
    base = schedule[min(attempts, len(schedule)) - 1] if schedule else 300.0
    return base * random.uniform(0.9, 1.1)
