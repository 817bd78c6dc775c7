"""AOL's own notices: "Your mail to the following recipients could not be delivered
because they are not accepting mail from ...:" followed by indented screen names
(AOL members, so the address is <screenname>@aol.com) or full addresses.
"""

from __future__ import annotations

import re

from bounces import addresses
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_LEAD = "your mail to the following recipients could not be delivered"
_SCREEN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{1,31}$")


def detect(mail: Mail) -> Detection | None:
    if "@aol.com" not in mail.sender.lower():
        return None
    start = mail.text.lower().find(_LEAD)
    if start < 0:
        return None
    lead, names = _lead_and_names(mail.text[start:])
    findings = [f for f in (_finding(name, lead) for name in names) if f]
    return Detection("aol", findings) if findings else None


def _lead_and_names(text: str) -> tuple[str, list[str]]:
    """The lead paragraph, and the indented names listed right after it."""
    lead: list[str] = []
    names: list[str] = []
    for line in text.split("\n")[:200]:
        if line[:1] in ("\t", " ") and line.strip():
            names.append(line.strip())
        elif names:
            break
        elif line.strip():
            lead.append(line.strip())
    return common.sweep(" ".join(lead)), names


def _finding(name: str, lead: str) -> Finding | None:
    if "@" in name:
        address = addresses.clean(name)
    else:
        address = f"{name}@aol.com" if _SCREEN_NAME.match(name) else ""
    if not address:
        return None
    # The member's own mail controls refused the sender: a filter, not a dead box.
    hint = "filtered" if "not accepting mail from" in lead.lower() else ""
    return Finding(address=address, diagnostic=lead, action="failed", hint=hint)
