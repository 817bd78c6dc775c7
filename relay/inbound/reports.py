"""Stored reports: the raw bytes first (never dropped), then what parsing and matching found.

A report changes something only when it proves its recipient (relay.inbound.matching); one
that only claims a recipient by a Message-ID is kept as `unverified`, with an event in that
message's history, and changes nothing. The same report received twice counts once: the second
is kept as a `duplicate` of the first (relay.inbound.fingerprint says what "the same" is).
"""

import dataclasses
from dataclasses import dataclass

from bounces import Report, report_to_dict
from relay.inbound.effects import apply_report, record_unverified
from relay.inbound.fingerprint import fingerprint
from relay.inbound.matching import match_report
from relay.store.reports import finish_report, load_raw, report_status, same_report
from relay.store.sql import Tx
from relay.store.suppression import add_optout, mailto_target
from relay.unsubscribe import MAILTO_PREFIX

_FREE_TEXT = ("autoreply", "other")  # report kinds without a status of their own


@dataclass(frozen=True)
class Outcome:
    report_id: int
    kind: str
    status: str  # matched | unverified | duplicate | unrecognized | opt-out
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
    status = "matched" if match.verified else "unverified"
    seen = fingerprint(report, match.recipient, _text_if_needed(tx, report_id, report))
    earlier = same_report(tx, match.recipient, seen, status)
    if earlier is not None:
        status, effect = "duplicate", f"the same as report {earlier}: counted once, nothing changed"
    elif match.verified:
        effect = apply_report(tx, report_id, report, match)
    else:
        effect = record_unverified(tx, report_id, report, match)
    outcome = _finish(tx, report_id, report, status, match.recipient, effect, seen, match.how)
    return dataclasses.replace(outcome, message=match.message, address=match.address)


def _text_if_needed(tx: Tx, report_id: int, report: Report) -> bytes:
    """The report's body, for a report whose results say nothing to tell two apart (an
    auto-reply, a notice nobody could read): it has no delivery status of its own."""
    if report.kind not in _FREE_TEXT:
        return b""
    raw, _ = load_raw(tx, report_id)
    return raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2]


def _finish(
    tx: Tx,
    report_id: int,
    report: Report,
    status: str,
    recipient: int | None,
    effect: str,
    seen: str | None = None,
    how: str | None = None,
) -> Outcome:
    parsed = {**report_to_dict(report), "effect": effect, "matched_by": how}
    finish_report(tx, report_id, report.kind, status, recipient, parsed, seen)
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
