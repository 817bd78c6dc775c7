"""Zoho Mail's own notices: one line per recipient, either

    user@example.org Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 ... User Unknown
    [Status: Error, Address: <user@example.org>, ResponseCode 421, , Host not reachable.]

the second form in "THIS IS A WARNING MESSAGE ONLY" notices while Zoho still retries.
"""

from __future__ import annotations

import re

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

# The local part holds no "@", and the status line's closing "]" is checked apart (_status):
# each pattern is then linear in the line; `\S+@\S+` and a lazy `.*?` before `.*\]$` were
# quadratic on a line of "@" or of "Address: <a>" repeats.
_FAILED = re.compile(r"^(?P<addr>[^\s@]+@\S+) (?P<text>.*ERROR_CODE :.*)$")
_STATUS = re.compile(r"^\[Status: (?P<text>.*?Address: <(?P<addr>[^<>\s]+)>)")
_RESPONSE_CODE = re.compile(r"(?:ERROR_CODE :|ResponseCode )(\d{3})\b")
_RETRYING = ("this is a warning message only", "will be retried")


def detect(mail: Mail) -> Detection | None:
    if not _from_zoho(mail):
        return None
    text = mail.text
    retrying = any(marker in text.lower() for marker in _RETRYING)
    findings = []
    for line in text.split("\n")[:1000]:
        address, said = _failed(line)
        if address:
            findings.append(_finding(address, said, retrying))
    return Detection("zoho", findings) if findings else None


def _failed(line: str) -> tuple[str, str]:
    """(address, its text) of a line that names a failed recipient; ("", "") otherwise."""
    if found := _FAILED.match(line):
        return addresses.clean(found.group("addr")), found.group("text")
    line = line.rstrip()
    if line.endswith("]") and (found := _STATUS.match(line)):
        return addresses.clean(found.group("addr")), line[len("[Status: ") : -1]
    return "", ""


def _from_zoho(mail: Mail) -> bool:
    if mail.header("x-zohomail"):
        return True
    return "zoho mail" in mail.header("user-agent").lower() and "zoho.com" in mail.sender.lower()


def _finding(address: str, text: str, retrying: bool) -> Finding:
    diagnostic = common.sweep(text)
    code = _RESPONSE_CODE.search(diagnostic)
    finding = Finding(
        address=address,
        diagnostic=diagnostic,
        reply=code.group(1) if code else "",
        action="delayed" if retrying else "failed",
        command=smtp.find_command(diagnostic),
    )
    if "host not reachable" in diagnostic.lower():
        finding.hint = "expired"  # Zoho gives up on unreachable hosts only after days
    return finding
