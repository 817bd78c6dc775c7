"""Amazon SES notifications (JSON), sent by e-mail directly or wrapped in an SNS message.

docs.aws.amazon.com/ses/latest/dg/notification-contents.html: notificationType is
Bounce (bouncedRecipients), Complaint (complainedRecipients) or Delivery (recipients).
"""

from __future__ import annotations

import json

from bounces import smtp
from bounces.context import Detection, Finding, Mail
from bounces.status import find_status

_SUBTYPE_HINTS = {
    "MailboxFull": "mailboxfull",
    "MessageTooLarge": "mesgtoobig",
    "ContentRejected": "contenterror",
    "AttachmentRejected": "securityerror",
    "Suppressed": "suppressed",
    "OnAccountSuppressionList": "suppressed",
}
_MAX_JSON = 512 * 1024


def detect(mail: Mail) -> Detection | None:
    if "notificationType" not in mail.text[:_MAX_JSON]:
        return None
    notice = _notification(mail.text[:_MAX_JSON])
    if not notice:
        return None
    kind = notice.get("notificationType")
    if kind == "Bounce":
        return _bounce(_object(notice.get("bounce")))
    if kind == "Complaint":
        return _complaint(_object(notice.get("complaint")))
    if kind == "Delivery":
        return _delivery(_object(notice.get("delivery")))
    return None


def _object(value: object) -> dict:
    """A JSON object, or {} for anything else (a hostile notice may put a list there)."""
    return value if isinstance(value, dict) else {}


def _notification(text: str) -> dict:
    """The SES notification object, unwrapping SNS ({"Type": "Notification", "Message": ...})."""
    body = text.split("\n\n--\n", 1)[0].replace("!\n ", "")
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        return {}
    try:
        data = json.loads(body[start : end + 1])
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            data = json.loads(data["Message"])
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _bounce(bounce: dict) -> Detection | None:
    hint = _SUBTYPE_HINTS.get(str(bounce.get("bounceSubType", "")), "")
    findings = []
    for entry in _entries(bounce.get("bouncedRecipients")):
        diagnostic = " ".join(str(entry.get("diagnosticCode") or "").split())
        findings.append(
            Finding(
                address=str(entry.get("emailAddress", "")),
                diagnostic=diagnostic,
                status=find_status(str(entry.get("status") or "")),
                action=str(entry.get("action") or "failed"),
                command=smtp.find_command(diagnostic),
                hint=hint,
            )
        )
    return _detection(findings, bounce.get("reportingMTA"))


def _complaint(complaint: dict) -> Detection | None:
    findings = [
        Finding(address=str(e.get("emailAddress", "")), hint="feedback")
        for e in _entries(complaint.get("complainedRecipients"))
    ]
    found = _detection(findings, None)
    if found:
        found.kind = "complaint"
        found.feedback_type = str(complaint.get("complaintFeedbackType") or "abuse")
    return found


def _delivery(delivery: dict) -> Detection | None:
    response = str(delivery.get("smtpResponse") or "")
    recipients = delivery.get("recipients") if isinstance(delivery.get("recipients"), list) else []
    findings = [
        Finding(
            address=str(r),
            diagnostic=response,
            status=find_status(response, "2"),
            action="delivered",
        )
        for r in recipients
        if isinstance(r, str)
    ]
    return _detection(findings, delivery.get("reportingMTA"))


def _entries(value: object) -> list[dict]:
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def _detection(findings: list[Finding], reporter: object) -> Detection | None:
    findings = [f for f in findings if "@" in f.address]
    if not findings:
        return None
    host = str(reporter or "").split(";")[-1].strip()
    return Detection("amazonses", findings, reporter=host)
