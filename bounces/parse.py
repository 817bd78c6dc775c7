"""parse_report(): bytes in, a Report out; never raises."""

from __future__ import annotations

from bounces import addresses, detectors, mime, notice
from bounces.classify import classify
from bounces.context import Detection, Finding, Mail
from bounces.report import RecipientResult, Report
from bounces.smtp import remote_host_in
from bounces.status import find_reply, is_temporary, pseudo_status

_SUCCESS = ("delivered", "relayed", "expanded")
# A report about more recipients is cut: classifying each costs time, and the relay
# sends one recipient per envelope anyway.
MAX_RECIPIENTS = 500
_TOKEN_HEADERS = ("to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")


def parse_report(raw: bytes, *, strict: bool = False) -> Report:
    """Read any report (DSN, ARF, auto-reply, text bounce); kind "other" if none.

    Never raises: an exception is a bug of ours, recorded in `Report.errors` (the format
    is "unreadable" when it stopped the whole reading). `strict=True` lets it propagate,
    so that tests see every one.
    """
    errors: list[str] = []
    try:
        report = _parse(raw, errors, strict)
    except Exception as exc:  # a hostile or broken report must never break the listener
        if strict:
            raise
        errors.append(f"parse: {type(exc).__name__}: {exc}"[:300])
        report = Report(kind="other", format="unreadable")
    report.errors = errors
    return report


def _parse(raw: bytes, errors: list[str], strict: bool) -> Report:
    mail = Mail(mime.parse_bytes(raw))
    detection = detectors.run(mail, errors, strict)
    report = Report(kind="other", format="none")
    if detection is not None:
        report = _from_detection(detection, mail)
    report.message_id = _message_id(mail)
    report.token = _token(mail)
    if detection is None or detection.returned_headers is None:
        report.returned_headers = [(k, mime.decode_header(v)) for k, v in mail.returned_headers]
    else:
        report.returned_headers = detection.returned_headers
    return report


def _from_detection(detection: Detection, mail: Mail) -> Report:
    findings = detection.findings[:MAX_RECIPIENTS]
    # Only a notice that says nothing per recipient needs its words read as a whole.
    retrying = any(not f.action for f in findings) and notice.still_retrying(mail)
    recipients = _unique([_recipient(f, detection.reporter, retrying) for f in findings])
    kind = detection.kind or _kind_of(recipients)
    return Report(
        kind=kind,
        recipients=recipients,
        feedback_type=detection.feedback_type,
        auth_results=detection.auth_results,
        format=detection.format,
    )


def _recipient(finding: Finding, reporter: str, retrying: bool) -> RecipientResult:
    code = int(finding.reply) if finding.reply.isascii() and finding.reply.isdigit() else None
    remote = finding.remote_mta or _remote_named(finding.diagnostic, reporter)
    verdict = classify(
        code,
        finding.status or None,
        finding.diagnostic,
        command=finding.command,
        action=finding.action,
        hint=finding.hint,
        spec=finding.spec,
        remote_mta=remote,
        recipient=finding.address,
        reporting_mta=reporter,
        report=True,
        category=finding.category,
    )
    status = verdict.status or _pseudo(verdict.reason, finding)
    reply = code or _reply_in(finding.diagnostic, status)
    return RecipientResult(
        address=finding.address,
        action=_action(finding, verdict.reason, status, retrying),
        status=status,
        reason=verdict.reason,
        diagnostic=_concise(finding.diagnostic, finding.address),
        remote_mta=remote or None,
        code=reply,
        dead_address=verdict.dead_address,
    )


def _concise(diagnostic: str, address: str) -> str:
    """The diagnostic as shown: from the recipient's own lines on when a long notice was
    merged in for classification and the remote reply follows the address."""
    text = " ".join(diagnostic.split())
    at = text.lower().find(address.lower()) if address else -1
    if len(text) > 400 and at > 200 and find_reply(text[at:]):
        text = text[at - 1 :] if text[at - 1] == "<" else text[at:]
    return text[:1000]


def _remote_named(diagnostic: str, reporter: str) -> str:
    """The remote host a notice names ("host mx.example.org said"), not the reporter."""
    named = remote_host_in(diagnostic)
    return "" if reporter and named == reporter.lower().rstrip(".") else named


def _pseudo(reason: str, finding: Finding) -> str | None:
    if reason in ("vacation", "feedback", "delivered"):
        return None
    # As Sisimai does: only the reply's own words make a code temporary.
    return pseudo_status(reason, is_temporary(finding.diagnostic)) or None


def _reply_in(text: str, status: str | None) -> int | None:
    found = find_reply(text, (status or "")[:1])
    return int(found) if found else None


def _action(finding: Finding, reason: str, status: str | None, retrying: bool) -> str:
    """RFC 3464 §2.3.3: what the report says was done; "failed" for a give-up.

    Without the report's word for it, a delay warning's recipients are "delayed"
    (notice.py), any other failure is "failed": an expiry too, since a notice that
    the message expired is the sender's give-up."""
    if reason in ("vacation", "feedback"):
        return ""
    if finding.action:
        return finding.action
    if reason == "delivered":
        return "delivered"
    if retrying:
        return "delayed"
    return "failed" if status and status[0] in "45" else ""


def _kind_of(recipients: list[RecipientResult]) -> str:
    if not recipients:
        return "other"
    actions = {r.action for r in recipients}
    if actions <= set(_SUCCESS) or all(r.reason == "delivered" for r in recipients):
        return "delivered"
    if actions == {"delayed"}:
        return "delay"
    return "bounce"


def _unique(recipients: list[RecipientResult]) -> list[RecipientResult]:
    seen: set[str] = set()
    out = []
    for r in recipients:
        if r.address.lower() not in seen:
            seen.add(r.address.lower())
            out.append(r)
    return out


def _message_id(mail: Mail) -> str | None:
    value = mail.returned("message-id").strip()
    return value.split()[0] if value else None


def _token(mail: Mail) -> str | None:
    values = [h for name in _TOKEN_HEADERS for h in mail.headers_all(name)]
    values.append(mail.returned("return-path"))
    return addresses.find_token(*values)
