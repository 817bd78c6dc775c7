"""au by KDDI (EZweb, ezweb.ne.jp / au.com) mobile mail bounces: "The user(s) account
is disabled.", "<addr>: 550 user unknown", or "Recipient: <addr>" with a transcript."""

from __future__ import annotations

import re

from bounces import addresses, dsn, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("--------------------------------------------------", "Content-Type: message/rfc822")
_STARTS = ("The user(s) ", "Your message ", "Each of the following", "<")
_HINTS = {
    "expired": ("your message was not delivered within ",),
    "mailboxfull": ("the user(s) account is temporarily over quota",),
    "onhold": ("each of the following recipients was rejected by a remote mail server",),
    "suspend": ("the user(s) account is disabled.", "the user(s) account is temporarily limited."),
}
_RECIPIENT = re.compile(r"^(?:\s*Recipient: )?<([^<>\s]+@[^<>\s]+)>")


def detect(mail: Mail) -> Detection | None:
    if _score(mail) < 2:
        return None
    findings: list[Finding] = []
    reading = False
    for line in common.cut_at(mail.text, _BOUNDARIES).split("\n"):
        reading = reading or line.startswith(_STARTS)
        if not reading or not line.strip() or not line.isascii():
            continue
        found = _RECIPIENT.match(line)
        if found and addresses.clean(found.group(1)):
            findings.append(Finding(address=addresses.clean(found.group(1)), diagnostic=line))
        elif findings:
            findings[-1].diagnostic += " " + line.strip()
        elif not findings:
            findings.append(Finding(address="", diagnostic=line))
    findings = _merge_leading(findings)
    statuses = {f.address.lower(): f.status for f in dsn.findings_from_blocks(mail.dsn_blocks)}
    for finding in findings:
        finding.status = statuses.get(finding.address.lower(), "")
        _interpret(finding, mail)
    return Detection("ezweb", findings) if findings else None


def _score(mail: Mail) -> int:
    score = int("Postmaster@ezweb.ne.jp" in mail.sender) + int("Postmaster@au.com" in mail.sender)
    score += int(mail.subject == "Mail System Error - Returned Mail")
    score += int(
        any(
            "ezweb.ne.jp (EZweb Mail) with" in r or ".au.com (" in r
            for r in mail.headers_all("received")
        )
    )
    message_id = mail.header("message-id")
    return score + int(".ezweb.ne.jp>" in message_id or ".au.com>" in message_id)


def _merge_leading(findings: list[Finding]) -> list[Finding]:
    """Text before the first address ("The user(s) account is disabled.") belongs to it."""
    if len(findings) > 1 and not findings[0].address:
        findings[1].diagnostic = f"{findings[0].diagnostic} {findings[1].diagnostic}"
    return [f for f in findings if f.address]


def _interpret(finding: Finding, mail: Mail) -> None:
    finding.diagnostic = common.sweep(finding.diagnostic)
    finding.command = smtp.find_command(finding.diagnostic)
    finding.action = "failed"
    if mail.header("x-spasign") == "NG":  # au's spam filter refused it
        finding.hint = "filtered"
        return
    finding.hint = common.hint_for(finding.diagnostic, _HINTS)
    domain = finding.address.rpartition("@")[2].lower()
    if (
        not finding.hint
        and domain not in ("ezweb.ne.jp", "au.com")
        and finding.diagnostic[:1] == "<"
    ):
        finding.hint = "userunknown"
