"""HCL/IBM (Lotus) Domino bounces: Subject "DELIVERY FAILURE: ..." and a notice

    Your message
      Subject: ...
    was not delivered to:
      user@example.org
    because:
      User user (user@example.org) not listed in Domino Directory

Newer Domino servers add an RFC 3464 part; its Status and Remote-MTA are kept, but
the notice names the address the sender used (the DSN may give a routed one).
"""

from __future__ import annotations

from bounces import addresses, dsn, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_HINTS = {
    "userunknown": (
        "not listed in domino directory",
        "not listed in public name & address book",
        "domino ディレクトリには見つかりません",
    ),
    "filtered": ("cannot route mail to user",),
    "systemerror": ("several matches found in domino directory",),
}


def detect(mail: Mail) -> Detection | None:
    if not mail.subject.upper().startswith(("DELIVERY FAILURE:", "DELIVERY_FAILURE:")):
        return None
    findings = _read_notice(mail.text)
    if not findings:
        return None
    from_dsn = dsn.findings_from_blocks(mail.dsn_blocks, keep_unaddressed=True)
    for number, finding in enumerate(findings):
        if number < len(from_dsn):
            _complete(finding, from_dsn[number])
        finding.diagnostic = common.sweep(finding.diagnostic)
        finding.hint = common.hint_for(finding.diagnostic, _HINTS)
        finding.command = smtp.find_command(finding.diagnostic)
    return Detection("domino", findings)


def _read_notice(text: str) -> list[Finding]:
    findings: list[Finding] = []
    state = ""
    for line in text.split("\n")[:1000]:
        stripped = line.strip()
        if stripped.lower() == "was not delivered to:":
            state = "recipient"
        elif stripped.lower() == "because:":
            state = "reason"
        elif not stripped:
            continue
        elif state == "recipient" and addresses.find_all(stripped):
            findings.append(Finding(address=addresses.find_all(stripped)[0], action="failed"))
            state = ""
        elif state == "reason" and findings:
            findings[-1].diagnostic = stripped
            state = ""
    return findings


def _complete(finding: Finding, reported: Finding) -> None:
    finding.status = reported.status
    finding.remote_mta = reported.remote_mta
    finding.spec = reported.spec
    if not finding.diagnostic:
        finding.diagnostic = reported.diagnostic
