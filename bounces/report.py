"""What a parsed report says: plain dataclasses and their JSON shape (SPEC.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bounces.taxonomy import Reason

KINDS = ("bounce", "delay", "complaint", "autoreply", "delivered", "other")


@dataclass
class RecipientResult:
    address: str
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str | None  # "5.1.1"; a Sisimai-style "5.0.9xx" when the report gave none
    reason: Reason  # one of SPEC's, from classify() (a str)
    diagnostic: str  # e.g. "550 5.1.1 <max@example.org>: Recipient address rejected"
    remote_mta: str | None
    code: int | None  # SMTP reply code when known (550)
    dead_address: bool  # from classify()


@dataclass
class Report:
    kind: str  # one of KINDS
    recipients: list[RecipientResult] = field(default_factory=list)
    message_id: str | None = None  # Message-ID of the original message
    token: str | None = None  # from b-<token>@<bounce domain>, not verified here
    feedback_type: str | None = None  # ARF Feedback-Type (RFC 5965 §3.1)
    returned_headers: list[tuple[str, str]] = field(default_factory=list)
    auth_results: list[dict] = field(default_factory=list)
    format: str = ""  # which detector matched: "rfc3464", "arf", "rfc3834", "exim", ...
    # Exceptions met while reading ("exim: IndexError: ..."): a detector that raised was
    # skipped and the next one tried; "unreadable" means nothing could be read at all.
    # A bug to fix, never an answer about the report; not part of the JSON shape.
    errors: list[str] = field(default_factory=list)


def report_to_dict(r: Report) -> dict:
    """SPEC.md's JSON shape plus feedback_type and format."""
    return {
        "kind": r.kind,
        "recipients": [
            {
                "address": rr.address,
                "action": rr.action,
                "status": rr.status,
                "reason": rr.reason,
                "diagnostic": rr.diagnostic,
                "remote_mta": rr.remote_mta,
            }
            for rr in r.recipients
        ],
        "message_id": r.message_id,
        "token": r.token,
        "feedback_type": r.feedback_type,
        "format": r.format,
    }
