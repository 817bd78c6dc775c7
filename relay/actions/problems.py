"""Undeliverable mandatory mail waiting for the shop to act: `relay problems list|ack`,
`GET /api/v1/problems`, `POST /api/v1/problems/{id}/ack`, `relay status` (and the console)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from relay.actions.errors import NotFound
from relay.explain import reach_otherwise
from relay.history import message as message_view
from relay.store import problems as store
from relay.store.db import Write
from relay.store.sql import Conn


@dataclass(frozen=True)
class ProblemView:
    id: int
    shop: str
    message: str
    recipient: str  # the address
    kind: str
    order: str | None
    cause: str  # bounced | failed | suppressed | expired
    reason: str | None
    text: str  # what happened, in words
    action: str  # what the shop must do
    created_at: float
    acked_at: float | None
    acked_by: str | None

    @property
    def open(self) -> bool:
        return self.acked_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "shop": self.shop,
            "message_id": self.message,
            "recipient": self.recipient,
            "kind": self.kind,
            "order": self.order,
            "cause": self.cause,
            "reason": self.reason,
            "text": self.text,
            "action": self.action,
            "created_at": self.created_at,
            "acked_at": self.acked_at,
            "acked_by": self.acked_by,
            "open": self.open,
        }


def _view(conn: Conn, problem: store.Problem, language: str) -> ProblemView:
    found = message_view(conn, problem.message, language=language)
    recipient = (
        next((r for r in found.recipients if r.id == problem.recipient), None) if found else None
    )
    return ProblemView(
        id=problem.id,
        shop=problem.shop,
        message=problem.message,
        recipient=problem.address,
        kind=problem.kind,
        order=problem.order_ref,
        cause=problem.cause,
        reason=problem.reason,
        text=recipient.text if recipient else problem.cause,
        action=reach_otherwise(problem.kind, problem.order_ref, language),
        created_at=problem.created_at,
        acked_at=problem.acked_at,
        acked_by=problem.acked_by,
    )


def list_problems(
    conn: Conn,
    shop: str | None = None,
    *,
    include_acked: bool = False,
    language: str = "en",
    limit: int = 200,
) -> list[ProblemView]:
    found = store.list_problems(conn, shop, only_open=not include_acked, limit=limit)
    return [_view(conn, p, language) for p in found]


def get_problem(
    conn: Conn, problem_id: int, shop: str | None = None, language: str = "en"
) -> ProblemView:
    """One problem (of `shop`, when given: another shop's is as unknown as none)."""
    found = store.get_problem(conn, problem_id)
    if found is None or (shop is not None and found.shop != shop):
        raise NotFound(f"no problem {problem_id}; `relay problems list` shows the open ones", "id")
    return _view(conn, found, language)


async def ack_problem(
    conn: Conn,
    write: Write,
    problem_id: int,
    *,
    by: str,
    shop: str | None = None,
    language: str = "en",
) -> tuple[ProblemView, bool]:
    """Acknowledge: the shop has seen it and reaches the customer another way. Safe to repeat
    (a retried request): the second time changes nothing. The problem, and whether this call
    acknowledged it."""
    problem = get_problem(conn, problem_id, shop, language)
    if not problem.open:
        return problem, False
    now = time.time()
    changed = await write(lambda tx: store.ack_problem(tx, problem_id, by, now, shop))
    return get_problem(conn, problem_id, shop, language), bool(changed)
