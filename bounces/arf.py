"""RFC 5965 Abuse Reporting Format (spam complaints, feedback loops).

A multipart/report; report-type=feedback-report carries a message/feedback-report
part (§3.1: Feedback-Type, Original-Rcpt-To, Authentication-Results, ...) and the
reported message or its headers (§2 item 3). The complaining recipient is
Original-Rcpt-To, else the To: of the reported message.
"""

from __future__ import annotations

import authres

from bounces import addresses, fields, mime
from bounces.context import Detection, Finding, Mail

FEEDBACK_TYPES = ("message/feedback-report",)
_MAX_AUTHRES = 2000


# Complaint loops that predate or ignore RFC 5965: Microsoft JMRP and Amazon SES send
# multipart/mixed "complaint about message from <ip>" with the message attached.
_NON_ARF_SENDERS = ("staff@hotmail.com", "complaints@email-abuse.amazonses.com")


def detect(mail: Mail) -> Detection | None:
    parts = mail.parts_of(FEEDBACK_TYPES)
    if not parts and mail.report_type != "feedback-report":
        return _non_arf_complaint(mail)
    block = _feedback_fields(parts)
    if not block and not parts:
        return None
    feedback_type = fields.first(block, "feedback-type").lower() or "abuse"
    recipients = _complainants(mail, block)
    findings = [Finding(address=a, hint="feedback", action="") for a in recipients]
    return Detection(
        format="arf",
        findings=findings,
        kind="complaint",
        feedback_type=feedback_type,
        auth_results=parse_auth_results(fields.first(block, "authentication-results")),
    )


def _non_arf_complaint(mail: Mail) -> Detection | None:
    if mail.header("x-apple-unsubscribe").lower() == "true":
        # iCloud "unsubscribe" button: the complainant is the sender of this report.
        found = addresses.find_all(mail.sender)
        findings = [Finding(address=found[0], hint="feedback")] if found else []
        return Detection("arf", findings, kind="complaint", feedback_type="opt-out")
    if not mail.subject.lower().startswith("complaint about message from "):
        return None
    if not any(s in mail.sender.lower() for s in _NON_ARF_SENDERS):
        return None
    original = mail.returned("x-hmxmroriginalrecipient") or mail.returned("to")
    found = addresses.find_all(original)
    findings = [Finding(address=found[0], hint="feedback")] if found else []
    return Detection("arf", findings, kind="complaint", feedback_type="abuse")


def _feedback_fields(parts: list) -> list[tuple[str, str]]:
    merged: list[tuple[str, str]] = []
    for part in parts:
        for block in fields.parse_blocks(mime.raw_part_text(part)):
            merged.extend(block)
    return merged


def _complainants(mail: Mail, block: list[tuple[str, str]]) -> list[str]:
    found = [addresses.clean(v) for k, v in block if k == "original-rcpt-to"]
    found = [a for a in found if a]
    if found:
        return list(dict.fromkeys(found))
    to = addresses.find_all(mail.returned("to"))
    if to:
        return to[:1]
    removal = addresses.clean(fields.first(block, "removal-recipient"))
    return [removal] if removal else []


def parse_auth_results(value: str) -> list[dict]:
    """Authentication-Results (RFC 8601) as dicts; [] when absent or unparseable."""
    if not value:
        return []
    try:
        header = authres.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + value[:_MAX_AUTHRES]
        )
    except Exception:  # authres raises its own SyntaxError on malformed values
        return []
    return [
        {
            "authserv_id": header.authserv_id,
            "method": result.method,
            "result": result.result,
            "reason": result.reason,
            "properties": {f"{p.type}.{p.name}": p.value for p in result.properties},
        }
        for result in header.results
    ]
