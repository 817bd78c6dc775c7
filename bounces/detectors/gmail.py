"""Gmail's own bounces (mailer-daemon@googlemail.com, before Google sent RFC 3464):
"Delivery to the following recipient failed permanently:", the address indented, then
"Technical details ...", ending with "(state N)": Gmail's SMTP state when it failed."""

from __future__ import annotations

import re

from bounces import addresses
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common
from bounces.reason import status_name
from bounces.status import find_status

_BOUNDARIES = ("----- Original message -----", "----- Message header follows -----")
_START = "Delivery to the following recipient"
# "(state N)": the SMTP stage Gmail was in (from Gmail help forum threads).
_STATES = {
    "6": ("MAIL", "securityerror"),
    "8": ("AUTH", "systemerror"),
    "9": ("AUTH", "securityerror"),
    "12": ("AUTH", "norelaying"),
    "13": ("EHLO", "blocked"),
    "14": ("RCPT", "userunknown"),
    "15": ("DATA", "filtered"),
    "17": ("DATA", "filtered"),
    "18": ("DATA", "filtered"),
}
_HINTS = {
    "expired": (
        "dns error: could not contact dns servers",
        "delivery to the following recipient has been delayed",
        "the recipient server did not accept our requests to connect",
    ),
    "hostunknown": (
        "dns error: domain name not found",
        "dns error: dns server returned answer with no data",
    ),
}
_STATE = re.compile(r" \(state (\d+)\)")


def detect(mail: Mail) -> Detection | None:
    if "<mailer-daemon@googlemail.com>" not in mail.sender:
        return None
    if "Delivery Status Notification" not in mail.subject or _START not in mail.text:
        return None
    body = common.after(common.cut_at(mail.text, _BOUNDARIES), (_START,))
    findings: list[Finding] = []
    text: list[str] = []
    for line in body.split("\n"):
        if line.startswith(" ") and "@" in line and addresses.clean(line.strip()):
            findings.append(Finding(address=addresses.clean(line.strip()), action="failed"))
        elif line.strip():
            text.append(line.strip())
    diagnostic = common.sweep(" ".join(text))
    for finding in findings:
        _interpret(finding, diagnostic)
    return Detection("gmail", findings) if findings else None


def _interpret(finding: Finding, diagnostic: str) -> None:
    finding.diagnostic = diagnostic
    state = _STATE.search(diagnostic)
    if state and state.group(1) in _STATES:
        finding.command, finding.hint = _STATES[state.group(1)]
    finding.hint = finding.hint or common.hint_for(diagnostic, _HINTS)
    if "has been delayed" in diagnostic:
        finding.action = "delayed"
    code = find_status(diagnostic)
    if finding.hint and code and ".0" not in code:
        finding.hint = status_name(code) or finding.hint
