"""Ipswitch / Progress IMail Server (X-Mailer: <SMTP32 vN>): "Unknown user: addr",
"undeliverable to addr", then "Original message follows."."""

from __future__ import annotations

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("Original message follows.",)
_ERROR = "Body of message generated response:"
_HINTS = {
    "hostunknown": ("unknown host",),
    "userunknown": ("unknown user", "invalid final delivery userid"),
    "mailboxfull": ("user mailbox exceeds allowed size",),
    "virusdetected": ("requested action not taken: virus detected",),
    "spamdetected": ("blacklisted url in message",),
    "expired": ("delivery failed ",),
}


def detect(mail: Mail) -> Detection | None:
    if not (
        mail.subject.startswith("Undeliverable Mail ")
        or mail.header("x-mailer").startswith("<SMTP32 v")
    ):
        return None
    findings: list[Finding] = []
    response: list[str] = []
    for line in common.cut_at(mail.text, _BOUNDARIES).split("\n"):
        found = addresses.find_all(line)
        if _is_entry(line) and found:
            findings.append(Finding(address=found[0], diagnostic=line, action="failed"))
        elif _ERROR in line or response:
            response.append(line)
    for finding in findings:
        finding.diagnostic = common.sweep(" ".join([*response, finding.diagnostic]))
        finding.command = smtp.find_command(finding.diagnostic)
        finding.hint = common.hint_for(finding.diagnostic, _HINTS)
    return Detection("imailserver", findings) if findings else None


def _is_entry(line: str) -> bool:
    """`name: ...@...` (": " after the ninth character, an "@" after it) or `undeliverable `.
    Read with str methods: the pattern `^.{9,}?: .*@` was quadratic in repeats of ": "."""
    if line.startswith("undeliverable "):
        return True
    colon = line.find(": ", 9)
    return colon >= 0 and "@" in line[colon + 2 :]
