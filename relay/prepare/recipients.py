"""Per-recipient decision: send, suppressed (and why) or failed (and why)."""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import email_validator

from relay.kinds import Kind
from relay.model import Block, OptOut, RecipientPlan


@dataclass(frozen=True)
class Lookups:
    """What the decision needs from the store; read from SQLite, never from DNS."""

    block: Callable[[str], Block | None]
    optout: Callable[[str, str, str], OptOut | None]
    typo: Callable[[str], str | None]
    # A verified domain's custom return path (bounces.<domain>, from `relay dns check`), or None.
    return_path: Callable[[str], str | None] = lambda domain: None


@functools.lru_cache(maxsize=8192)
def _checked(address: str) -> tuple[str, str, str | None]:
    """(normalised address, ASCII domain, error or None); syntax only, no DNS (a DNS timeout
    is not an invalid address). Cached: shops send to the same customers again and again."""
    try:
        valid = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        return address, address.rpartition("@")[2].lower(), f"is not valid: {exc}"
    domain = valid.ascii_domain.lower()
    # A UTF-8 local part (RFC 6531) is queued like any address: delivery sends it only to a
    # server that announces SMTPUTF8, and fails it with that reason elsewhere. The domain is
    # always its A-label, which every server takes.
    return valid.local_part + "@" + domain, domain, None


@functools.lru_cache(maxsize=8192)
def syntax_error(address: str) -> str | None:
    """Why `address` is no mail address at all, or None: syntax only, no DNS. Submission
    refuses such a recipient at RCPT (553 5.1.3, issue 14), before any data is sent."""
    try:
        email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        return str(exc)
    return None


def plan_recipient(
    raw: str, shop: str, kind: Kind, disabled: frozenset[str], lookups: Lookups
) -> RecipientPlan:
    address = raw.strip().strip("<>")
    normal, domain, error = _checked(address)
    if error:
        return RecipientPlan(
            normal, domain, "failed", "invalid-address", f"the address {address!r} {error}"
        )
    plan = RecipientPlan(normal, domain, "queued")
    suggestion = lookups.typo(plan.domain)
    if suggestion:
        plan.warnings = (f"the domain {plan.domain} looks like a typo of {suggestion}",)
    return _suppress_if_needed(plan, shop, kind, disabled, lookups)


def _suppress_if_needed(
    plan: RecipientPlan, shop: str, kind: Kind, disabled: frozenset[str], lookups: Lookups
) -> RecipientPlan:
    if kind.name in disabled:
        plan.state, plan.reason = "suppressed", "kind-disabled"
        plan.detail = f"the shop has disabled {kind.name} messages"
        return plan
    block = lookups.block(plan.address)
    if block is not None:
        plan.state, plan.reason = "suppressed", "blocked"
        plan.detail = f"address blocked since {day_of(block.created_at)} ({block.reason})"
        return plan
    if kind.optional:
        optout = lookups.optout(shop, plan.address, kind.name)
        if optout is not None:
            plan.state, plan.reason = "suppressed", "opted-out"
            plan.detail = f"customer opted out of {kind.label_en} on {day_of(optout.created_at)}"
    return plan


def day_of(timestamp: float) -> str:
    """The UTC day of a time, as the history words show it."""
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d")
