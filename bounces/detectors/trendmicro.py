"""Trend Micro InterScan Messaging Security: "Unable to deliver message to <addr>", or
a transcript "Sent <<< RCPT TO:<addr>" / "Received >>> 550 5.1.1 ... user unknown"."""

from __future__ import annotations

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("Content-Type: message/rfc822",)


def detect(mail: Mail) -> Detection | None:
    if not (
        mail.sender.startswith('"InterScan')
        or "InterScan" in mail.header("content-type")
        or " InterScan " in mail.text
    ):
        return None
    findings: list[Finding] = []
    for line in common.cut_at(mail.text, _BOUNDARIES).split("\n"):
        _read(line.strip(), findings)
    for finding in findings:
        finding.diagnostic = common.sweep(finding.diagnostic)
        if "Unable to deliver" in finding.diagnostic:
            # InterScan says this when the recipient's server refused the address
            # ("Please check if address is correct").
            finding.hint = "userunknown"
    return Detection("trendmicro", findings) if findings else None


def _read(line: str, findings: list[Finding]) -> None:
    if not line:
        return
    sent, received = " <<< " in line, " >>> " in line
    if "@" in line and " <" in line and (sent or received or "Unable to deliver " in line):
        found = addresses.find_all(line[line.rfind("<") :])
        if found:
            if not findings or found[0].lower() not in findings[-1].address.lower():
                findings.append(Finding(address=found[0], action="failed"))
            if "Unable to deliver " in line:
                findings[-1].diagnostic = line
    if not findings:
        return
    if line.startswith("Sent <<< "):
        findings[-1].command = smtp.find_command(line)
    elif line.startswith("Received >>> "):
        findings[-1].diagnostic = line.split(" >>> ", 1)[1]
