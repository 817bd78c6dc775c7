"""Stored reports: the raw bytes first (never dropped), then what parsing and matching found."""

import dataclasses
from dataclasses import dataclass

from bounces import Report, parse_report, report_to_dict
from relay.inbound.effects import apply_report
from relay.inbound.matching import match_report
from relay.store.reports import finish_report, report_status
from relay.store.sql import Tx
from relay.store.suppression import add_optout, mailto_target
from relay.unsubscribe import MAILTO_PREFIX


@dataclass(frozen=True)
class Outcome:
    report_id: int
    kind: str
    status: str  # matched | unrecognized | opt-out
    effect: str
    message: str | None = None  # the matched message and recipient address (for the log)
    address: str | None = None


def apply_parsed(
    tx: Tx,
    report_id: int,
    report: Report,
    rcpt_tos: list[str],
    secret: bytes,
    bounce_domain: str,
) -> Outcome:
    """Match and apply in the caller's transaction; parsing happened before (it is pure).
    A report is applied once: a second worker recovering it finds it done already."""
    status = report_status(tx, report_id)
    if status != "new":
        return Outcome(report_id, report.kind, status or "missing", "already processed")
    optout = _mailto_optout(tx, rcpt_tos, bounce_domain)
    if optout:
        return _finish(tx, report_id, report, "opt-out", None, optout)
    match = match_report(tx, report, rcpt_tos, secret, bounce_domain)
    if match is None:
        return _finish(tx, report_id, report, "unrecognized", None, "kept for review")
    effect = apply_report(tx, report_id, report, match)
    outcome = _finish(tx, report_id, report, "matched", match.recipient, effect)
    return dataclasses.replace(outcome, message=match.message, address=match.address)


def _finish(
    tx: Tx, report_id: int, report: Report, status: str, recipient: int | None, effect: str
) -> Outcome:
    parsed = {**report_to_dict(report), "effect": effect}
    finish_report(tx, report_id, report.kind, status, recipient, parsed)
    return Outcome(report_id, report.kind, status, effect)


def mailto_token(address: str, bounce_domain: str) -> str | None:
    """The token of one of our List-Unsubscribe mailto addresses (u-...@bounce domain)."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    if domain == bounce_domain.lower() and local.startswith(MAILTO_PREFIX):
        return local
    return None


def _mailto_optout(tx: Tx, rcpt_tos: list[str], bounce_domain: str) -> str:
    """A message to the List-Unsubscribe mailto (RFC 8058 keeps mailto as the fallback)."""
    for address in rcpt_tos:
        local = mailto_token(address, bounce_domain)
        target = mailto_target(tx, local) if local is not None else None
        if target:
            shop, customer, kind = target
            add_optout(tx, shop, customer, kind, "mailto")
            return f"opted out {customer} of {kind} at {shop}"
    return ""


def parse(raw: bytes) -> Report:
    return parse_report(raw)
