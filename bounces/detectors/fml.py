"""fml (fml.org) mailing list manager refusals: "You are not a member of this mailing
list <list@example.org>."  The list refused the post, so the list address is the
failed recipient; X-MLServer and the ".FML" Message-ID identify the software.
"""

from __future__ import annotations

import re

from bounces import addresses
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("Original mail as follows:",)
# No "@" in the local part: `[^<>\s]+@` backtracked over every "@" of a long token.
_ANGLED = re.compile(r"<([^<>\s@]+@[^<>\s]+)>")
_HINTS = {
    "rejected": (
        " header may cause mail loop",
        "NOT MEMBER article from ",
        "reject mail from ",
        "reject spammers:",
        "You are not a member of this mailing list",
    ),
    "systemerror": (
        " has detected a loop condition so that",
        "Duplicated Message-ID",
        "Loop Back Warning:",
    ),
    "securityerror": ("Security alert:",),
}
_SUBJECT_HINTS = {
    "rejected": (
        " are not member",
        "NOT MEMBER article from ",
        "reject mail ",
        "Spam mail from a spammer",
    ),
    "systemerror": (
        "fml system error message",
        "Loop Alert: ",
        "Loop Back Warning: ",
        "UNIX FROM Loop",
    ),
    "securityerror": ("Security Alert",),
}


def detect(mail: Mail) -> Detection | None:
    if not mail.header("x-mlserver") or ".FML" not in mail.header("message-id"):
        return None
    findings: list[Finding] = []
    for line in common.cut_at(mail.text, _BOUNDARIES).split("\n"):
        found = _ANGLED.search(line)
        if found and addresses.clean(found.group(1)):
            findings.append(Finding(address=addresses.clean(found.group(1)), diagnostic=line))
        elif findings and line.strip():
            findings[-1].diagnostic += " " + line.strip()
    for finding in findings:
        finding.diagnostic = common.sweep(finding.diagnostic)
        finding.action = "failed"
        finding.hint = common.hint_for(finding.diagnostic, _HINTS, lower=False) or common.hint_for(
            mail.subject, _SUBJECT_HINTS, lower=False
        )
    return Detection("fml", findings) if findings else None
