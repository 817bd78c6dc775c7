"""RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status).

One per-message block, then one block per recipient (§2.1); we read Final-Recipient
/ Original-Recipient (§2.3.2, §2.3.1), Action (§2.3.3), Status (§2.3.4), Remote-MTA
(§2.3.5) and Diagnostic-Code (§2.3.6). The human-readable first part often says
more than the machine-readable one (which command failed, the full reply), so the
text around each recipient is read too.
"""

from __future__ import annotations

import re

from bounces import addresses, fields, smtp
from bounces.context import Detection, Finding, Mail
from bounces.status import find_reply, status_field

ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
_ACTION_SYNONYMS = {"failure": "failed", "deliverable": "delivered", "expired": "failed"}


def detect(mail: Mail) -> Detection | None:
    blocks = mail.dsn_blocks or blocks_in_text(mail.text)
    findings = findings_from_blocks(blocks)
    if not findings:
        return None
    lead = leading_text(mail.text if mail.dsn_blocks else mail.text[: _text_dsn_start(mail.text)])
    for finding in findings:
        if len(findings) == 1:
            finding.diagnostic = merge_lead(lead, finding.diagnostic)
        complete_from_text(finding, mail.text)
    return Detection("rfc3464", findings, reporter=reporting_mta(blocks))


_TEXT_DSN = re.compile(r"^content-type:\s*message/(?:global-)?delivery-status.*$", re.I | re.M)
_TEXT_REPORTING_MTA = re.compile(r"^Reporting-MTA:", re.I | re.M)
_TEXT_END = re.compile(r"^(?:--|content-type:\s*(?:message|text)/rfc822)", re.I | re.M)


def _text_dsn_start(text: str) -> int:
    match = _TEXT_DSN.search(text) or _TEXT_REPORTING_MTA.search(text)
    return match.start() if match else len(text)


def blocks_in_text(text: str) -> list[list[tuple[str, str]]]:
    """A delivery-status part that reached us as plain text (MIME structure lost)."""
    start = _text_dsn_start(text)
    if start == len(text):
        return []
    rest = text[start : start + 20000]
    end = _TEXT_END.search(rest)
    return fields.parse_blocks(rest[: end.start()] if end else rest)


def reporting_mta(blocks: list[list[tuple[str, str]]]) -> str:
    """RFC 3464 §2.2.2 Reporting-MTA of the per-message block ('' if none)."""
    for block in blocks[:2]:
        value = fields.first(block, "reporting-mta")
        if value:
            return _split_typed(value)[1].split()[0] if _split_typed(value)[1] else ""
    return ""


def findings_from_blocks(
    blocks: list[list[tuple[str, str]]], keep_unaddressed: bool = False
) -> list[Finding]:
    """One Finding per recipient block; `keep_unaddressed` keeps pipes and files too."""
    findings: list[Finding] = []
    per_message: list[tuple[str, str]] = []
    for block in blocks:
        finding = _finding(block, per_message, keep_unaddressed)
        if finding:
            findings.append(finding)
        elif not findings:
            per_message = block
    return findings


def _finding(
    block: list[tuple[str, str]], per_message: list[tuple[str, str]], keep_unaddressed: bool
) -> Finding | None:
    recipient, address = _recipient_of(block)
    if not address and not (keep_unaddressed and recipient):
        return None
    spec, diagnostic = _split_typed(fields.first(block, "diagnostic-code"))
    diagnostic = _with_status_comment(diagnostic, fields.first(block, "status"))
    if spec == "X-POSTFIX" and find_reply(diagnostic):
        spec = "SMTP"  # Postfix quoting the remote server's own reply
    return Finding(
        address=address,
        diagnostic=diagnostic,
        status=status_field(fields.first(block, "status")),
        action=normalise_action(fields.first(block, "action")),
        remote_mta=_host_of(fields.first(block, "remote-mta")),
        spec=spec or ("X-UNIX" if _is_unix(block) else ""),
        reply=_reply_field(block),
        category=fields.first(block, "x-powermta-bouncecategory").strip().lower(),
    )


_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")


def _recipient_of(block: list[tuple[str, str]]) -> tuple[str, str]:
    """(raw field value, address) of the recipient (RFC 3464 §2.3.1, §2.3.2).

    Final-Recipient, unless it is no Internet address (X.400), or a gateway-internal
    name for the same mailbox ("userx@sims-ms-daemon" for Original "userx@example.com").
    """
    raw = fields.first(block, *_RECIPIENT_FIELDS)
    final = addresses.clean(fields.first(block, "final-recipient"))
    original = addresses.clean(fields.first(block, "original-recipient"))
    actual = addresses.clean(fields.first(block, "x-actual-recipient"))
    if final and original and "." not in final.rpartition("@")[2]:
        same_mailbox = final.rpartition("@")[0].lower() == original.rpartition("@")[0].lower()
        return raw, original if same_mailbox else final
    return raw, final or original or actual


def _with_status_comment(diagnostic: str, status_field: str) -> str:
    """Some MTAs explain the code in the Status field itself: "5.2.1 (mailbox disabled,
    not accepting messages)" (RFC 3464 §2.3.4 allows a comment); that is evidence too."""
    start, end = status_field.find("("), status_field.rfind(")")
    comment = status_field[start + 1 : end].strip() if 0 <= start < end else ""
    if not comment or comment.lower() in diagnostic.lower():
        return diagnostic
    return f"{diagnostic} ({comment})" if diagnostic else comment


def _host_of(remote_mta: str) -> str:
    """RFC 3464 §2.3.5 mta-name: "dns; mx.example.org"; Courier adds " [192.0.2.1]"."""
    name = _split_typed(remote_mta)[1].split()
    return name[0] if name else ""


def _reply_field(block: list[tuple[str, str]]) -> str:
    value = fields.first(block, "x-smtp-reply-code")
    return value[:3] if value[:3].isascii() and value[:3].isdigit() else ""


def _is_unix(block: list[tuple[str, str]]) -> bool:
    return fields.first(block, "x-actual-recipient").lower().startswith("x-unix")


def _split_typed(value: str) -> tuple[str, str]:
    """'smtp; 550 5.1.1 ...' -> ('SMTP', '550 5.1.1 ...'); RFC 3464 §2.3.6 type; text."""
    head, sep, rest = value.partition(";")
    if sep and head.strip() and " " not in head.strip() and len(head) < 20:
        return head.strip().upper(), rest.strip()
    return "", value.strip()


def normalise_action(value: str) -> str:
    word = value.strip().lower().split(" ")[0] if value.strip() else ""
    word = _ACTION_SYNONYMS.get(word, word)
    return word if word in ACTIONS else ""


_SKIP_PREFIXES = (
    "Content-",
    "This is a MIME",
    "This is a multi",
    "This is an auto",
    "This multi-part",
    "###",
    "***",
    "--",
)


def leading_text(text: str) -> str:
    """The human-readable notice without MIME boilerplate, on one line."""
    kept = [
        line.strip()
        for line in text.split("\n")[:400]
        if line.strip()
        and not line.startswith(_SKIP_PREFIXES)
        and "--- The follow" not in line
        and "--- Transcript" not in line
    ]
    return " ".join(" ".join(kept).split())[:4000]


def merge_lead(lead: str, diagnostic: str) -> str:
    """One recipient: the notice may name the cause better than Diagnostic-Code does."""
    diagnostic = " ".join(diagnostic.split())
    if not lead:
        return diagnostic
    if diagnostic.lower() in lead.lower():
        return lead
    return f"{lead} {diagnostic}".strip()


def complete_from_text(finding: Finding, text: str) -> None:
    """Fill the command (and a missing diagnostic) from the human-readable part."""
    paragraph = paragraph_about(text, finding.address)
    if not finding.command:
        finding.command = smtp.find_command(paragraph) or smtp.find_command(finding.diagnostic)
    if not finding.diagnostic and paragraph:
        finding.diagnostic = paragraph


def paragraph_about(text: str, address: str, limit: int = 2000) -> str:
    """The text block that mentions `address`, up to the next blank line."""
    if not text or not address:
        return ""
    lowered = text.lower()
    at = lowered.find(address.lower())
    if at < 0:
        return ""
    start = lowered.rfind("\n\n", 0, at)
    end = lowered.find("\n\n", at)
    start = 0 if start < 0 else start + 2
    end = len(text) if end < 0 else end
    return text[start : min(end, start + limit)].strip()
