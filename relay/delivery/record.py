"""From one attempt and its decision to the result the store records (relay.model)."""

from relay.delivery.decide import Decision
from relay.delivery.outcome import Attempt
from relay.model import DeliveryResult, State


def delivery_result(row: dict, attempt: Attempt, decision: Decision) -> DeliveryResult:
    """`row` is a claimed recipient (id, message, shop, address)."""
    reply = attempt.reply
    return DeliveryResult(
        recipient=row["id"],
        message=row["message"],
        shop=row["shop"],
        address=row["address"],
        state=decision.state,
        reason=decision.reason,
        detail=_detail(decision, str(reply)),
        next_attempt_at=decision.next_attempt_at,
        block_address=decision.block_address,
        reply=str(reply),
        code=reply.code,
        status=reply.status,
        text=reply.text,
        mx_host=attempt.mx_host,
        tls=attempt.tls,
        duration_ms=attempt.duration_ms,
    )


def _detail(decision: Decision, reply: str) -> str | None:
    if decision.reason == "expired" and decision.state == State.BOUNCED:
        return f"gave up at the end of the queue lifetime; last error: {reply}"
    return reply
