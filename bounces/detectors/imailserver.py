"""Ipswitch / Progress IMail Server (X-Mailer: <SMTP32 vN>): "Unknown user: addr",
"undeliverable to addr", then "Original message follows."."""

from __future__ import annotations

import re

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("Original message follows.",)
_ERROR = "Body of message generated response:"
_ENTRY = re.compile(r"^(?:.{9,}?: .*@|undeliverable )")
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
        if _ENTRY.match(line) and found:
            findings.append(Finding(address=found[0], diagnostic=line, action="failed"))
        elif _ERROR in line or response:
            response.append(line)
    for finding in findings:
        finding.diagnostic = common.sweep(" ".join([*response, finding.diagnostic]))
        finding.command = smtp.find_command(finding.diagnostic)
        finding.hint = common.hint_for(finding.diagnostic, _HINTS)
    return Detection("imailserver", findings) if findings else None
