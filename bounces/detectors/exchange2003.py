"""Microsoft Exchange 5.5-2003 (X.400-era) non-delivery reports: "Your message ...
did not reach the following recipient(s):", "<addr> on <date>", then the reason and
an MSEXCH diagnostic line whose code in parentheses names the cause."""

from __future__ import annotations

import re

from bounces import addresses
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_MARKERS = ("Internet Mail Service (", "Microsoft Exchange Server Internet Mail Connector")
_START = "did not reach the following recipient(s):"
# No ":" or "@" in the local part: the run would otherwise cross every later ":smtp=".
_SMTP_IN_X400 = re.compile(r":smtp=([^;\s@:]+@[^;\s]+)", re.I)
# MSEXCH:IMS codes (Microsoft KB articles on Exchange 5.5 NDRs) and what they mean.
_CODES = {
    "000C05A6": "userunknown",  # Unknown Recipient
    "000C0595": "filtered",  # Ambiguous Recipient
    "00010256": "systemerror",  # Too many recipients
    "000D06B5": "systemerror",  # No proxy for recipient
    "00120270": "networkerror",  # Too many hops
    "00050311": "contenterror",  # Conversion to Internet format failed
    "000502CC": "contenterror",
    "000B0981": "securityerror",  # 502 Server does not support AUTH
    "000B099C": "onhold",  # host unknown, message size, ... (the text decides)
    "000B09AA": "onhold",
    "000B09B6": "onhold",
}
_HINTS = {"userunknown": ("the recipient name is not recognized",)}
# Searched from the first "MSEXCH:" on (_msexch_code): `MSEXCH:.*?\(` scanned to the end of
# the text from every "MSEXCH:", quadratic in their number.
_MSEXCH_CODE = re.compile(r"\(([0-9A-F]{8})\)")


def detect(mail: Mail) -> Detection | None:
    if not _is_exchange(mail):
        return None
    body = common.after(common.cut_at(mail.text, ("Content-Type: message/rfc822",)), (_START,))
    findings: list[Finding] = []
    for line in body.split("\n")[1:300]:
        if "@" in line and " on " in line and not line.startswith("    "):
            address = _address(line)
            if address:
                findings.append(Finding(address=address, action="failed"))
                continue
        if findings and line.strip():
            findings[-1].diagnostic += " " + line.strip()
    for finding in findings:
        _interpret(finding)
    return Detection("exchange2003", findings) if findings else None


def _is_exchange(mail: Mail) -> bool:
    if mail.header("x-ms-embedded-report"):
        return True
    if mail.header("x-mailer").startswith(_MARKERS):
        return True
    if mail.header("x-mimeole").startswith("Produced By Microsoft Exchange"):
        return True
    return any(" with Internet Mail Service (" in r for r in mail.headers_all("received"))


def _address(line: str) -> str:
    head = line.split(" on ", 1)[0]
    smtp_in_x400 = _SMTP_IN_X400.search(head)
    return addresses.clean(smtp_in_x400.group(1) if smtp_in_x400 else head.strip())


def _interpret(finding: Finding) -> None:
    text = common.sweep(finding.diagnostic)
    start = text.find("MSEXCH:")
    code = _MSEXCH_CODE.search(text, start + len("MSEXCH:")) if start >= 0 else None
    if code and code.group(1) in _CODES:
        finding.hint = _CODES[code.group(1)]
    finding.hint = finding.hint or common.hint_for(text, _HINTS)
    finding.diagnostic = text
