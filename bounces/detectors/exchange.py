"""Microsoft Exchange 2007 and later, Exchange Online / Office 365 non-delivery reports.

"Delivery has failed to these recipients or groups:" (or "<host> rejected your
message to the following email addresses:"), each recipient as "addr<mailto:addr>",
then "Diagnostic information for administrators:" with the remote reply, e.g.
"Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; ...'".
The NDR codes and enhanced status codes are Microsoft's own (learn.microsoft.com,
"Email non-delivery reports and SMTP errors in Exchange Online").
"""

from __future__ import annotations

import re

from bounces import addresses, dsn
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common
from bounces.status import find_status

_TITLES = (
    "Undeliverable",
    "Non_remis_",
    "Non remis ",
    "Non recapitabile",
    "Olevererbart",
    "Onbestelbaar:",
    "Não_entregue:",
)
_NDR_HEADERS = (
    "x-ms-exchange-message-is-ndr",
    "x-microsoft-antispam-prvs",
    "x-ms-exchange-crosstenant-originalarrivaltime",
    "x-ms-exchange-crosstenant-fromentityheader",
    "x-ms-exchange-transport-crosstenantheadersstamped",
)
_OUTLOOK_HOST = re.compile(r"\.(?:outbound\.protection|prod)\.outlook\.com\b")
_BOUNDARIES = ("Original message headers:", "Original Message Headers", "Message Hops")
_STARTS = re.compile(
    r"^(?:Delivery has failed to these recipients or groups:|Original Message Details"
    r"|.+ rejected your message to the following e-?mail addresses:"
    r"|Your message to .+ couldn't be delivered)",
    re.M,
)
_ERROR_START = ("Diagnostic information for administrators:", "Error Details")
_MAILTO = "<mailto:"  # "Name (a@example.org)<mailto:a@example.org>": read by _mailto()
_RECIPIENT_ADDRESS = re.compile(r"^Recipient Address:\s+(\S+@\S+)")
# Exchange NDR codes ("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##").
_NDR_CODES = {
    "SMTPSEND.DNS.NonExistentDomain": "hostunknown",
    "SMTPSEND.DNS.MxLoopback": "networkerror",
    "RESOLVER.ADR.BadPrimary": "systemerror",
    "RESOLVER.ADR.RecipNotFound": "userunknown",
    "RESOLVER.ADR.RecipientNotFound": "userunknown",
    "RESOLVER.ADR.ExRecipNotFound": "userunknown",
    "RESOLVER.ADR.RecipLimit": "toomanyconn",
    "RESOLVER.ADR.InvalidInSmtp": "systemerror",
    "RESOLVER.ADR.Ambiguous": "systemerror",
    "RESOLVER.RST.AuthRequired": "securityerror",
    "RESOLVER.RST.NotAuthorized": "rejected",
    "RESOLVER.RST.RecipSizeLimit": "exceedlimit",
    "QUEUE.Expired": "expired",
}
_NDR_CODE = re.compile(r"\b((?:RESOLVER|QUEUE|SMTPSEND)\.[A-Za-z.]+)")
# Exchange Online enhanced status codes and what they mean.
_STATUS_HINTS = (
    (re.compile(r"^4\.4\.7$"), "expired"),
    (re.compile(r"^4\.4\.312$"), "networkerror"),
    (re.compile(r"^[45]\.4\.316$"), "expired"),
    (re.compile(r"^4\.7\.26$"), "authfailure"),
    (re.compile(r"^4\.7\.(?:[56]\d\d|8[5-9]\d)$"), "blocked"),
    (re.compile(r"^5\.0\.350$"), "contenterror"),
    (re.compile(r"^5\.1\.10$"), "userunknown"),
    (re.compile(r"^5\.4\.1$"), "norelaying"),
    (re.compile(r"^5\.4\.(?:6|312)$"), "networkerror"),
    (re.compile(r"^5\.6\.11$"), "contenterror"),
    (re.compile(r"^5\.7\.(?:1|12|13|124|13[3-6])$"), "rejected"),
    (re.compile(r"^5\.7\.23$"), "blocked"),
    (re.compile(r"^5\.7\.25$"), "networkerror"),
    (re.compile(r"^5\.7\.50[1-3]$"), "spamdetected"),
    (re.compile(r"^5\.7\.50[45]$"), "filtered"),
    (re.compile(r"^5\.7\.50[67]$"), "blocked"),
    (re.compile(r"^5\.7\.508$"), "toomanyconn"),
    (re.compile(r"^5\.7\.509$"), "authfailure"),
    (re.compile(r"^5\.7\.510$"), "notaccept"),
    (re.compile(r"^5\.7\.511$"), "rejected"),
    (re.compile(r"^5\.7\.512$"), "policyviolation"),
    (re.compile(r"^5\.7\.57$"), "securityerror"),
    (re.compile(r"^5\.7\.(?:60[6-9]|6[1-4]\d)$"), "blocked"),
    (re.compile(r"^5\.7\.7[0-4]\d$"), "toomanyconn"),
)
_RCPT_REFUSED = "unknown recipient or mailbox unavailable ->"  # then an address: _rcpt_refused()
_DOT_LETTER = re.compile(r"\.[a-zA-Z]")


def detect(mail: Mail) -> Detection | None:
    if _score(mail) < 2:
        return None
    notice = common.cut_at(mail.text, _BOUNDARIES)
    start = _STARTS.search(notice)
    if not start:
        return None
    findings, diagnostic = _read(notice[start.start() :].split("\n")[1:400])
    blocks = mail.dsn_blocks
    from_dsn = dsn.findings_from_blocks(blocks)
    if not findings:
        findings = from_dsn
    for index, finding in enumerate(findings):
        twin = from_dsn[index] if index < len(from_dsn) else None
        _interpret(finding, diagnostic, twin)
    return Detection("exchange", findings, reporter=dsn.reporting_mta(blocks)) if findings else None


def _score(mail: Mail) -> int:
    score = int(any(t in mail.subject for t in _TITLES))
    score += int("postmaster@outlook.com" in mail.sender or ".onmicrosoft.com" in mail.sender)
    score += sum(1 for h in _NDR_HEADERS if mail.has_header(h))
    score += int(any(_OUTLOOK_HOST.search(r) for r in mail.headers_all("received")))
    score += int(bool(_OUTLOOK_HOST.search(mail.header("message-id"))))
    return score


def _read(lines: list[str]) -> tuple[list[Finding], str]:
    findings: list[Finding] = []
    error: list[str] = []
    in_error = False
    for line in lines:
        line = line.strip()
        found = _mailto(line) or _recipient_address(line)
        if found and addresses.clean(found):
            findings.append(Finding(address=addresses.clean(found), action="failed"))
        elif line.startswith(_ERROR_START):
            in_error = True
        elif in_error and line:
            error.append(line)
    return findings, common.sweep(" ".join(error))


def _mailto(line: str) -> str:
    """The address of `name@... <mailto:address>` (the line ends there), or "". Read with
    str methods: the pattern `^.+@.+<mailto:(.+@.+)>` cost O(n^4) on "@<mailto:" repeats."""
    line = line.rstrip()
    at = line.rfind(_MAILTO)
    if at < 0 or not line.endswith(">"):
        return ""
    inside = line[at + len(_MAILTO) : -1]
    named = "@" in line[1 : at - 1]  # text with an "@" before the link, as Exchange writes
    return inside if named and "@" in inside[1:-1] else ""


def _rcpt_refused(diagnostic: str) -> bool:
    """Whether the refusal names an address (`->.+@.+\\.[a-zA-Z]` after the words, on their
    line). Read with str methods: the pattern was quadratic in repeats of the words."""
    start = diagnostic.find(_RCPT_REFUSED)
    if start < 0:
        return False
    tail = diagnostic[start + len(_RCPT_REFUSED) :].partition("\n")[0]
    at = tail.find("@", 1)
    return at > 0 and _DOT_LETTER.search(tail, at + 2) is not None


def _recipient_address(line: str) -> str:
    found = _RECIPIENT_ADDRESS.match(line)
    return found.group(1) if found else ""


def _interpret(finding: Finding, diagnostic: str, twin: Finding | None) -> None:
    finding.diagnostic = diagnostic or (twin.diagnostic if twin else "")
    if twin:
        finding.status, finding.remote_mta = twin.status, twin.remote_mta
    if not finding.status or finding.status.endswith(".0.0"):
        finding.status = find_status(finding.diagnostic) or finding.status
    if _rcpt_refused(finding.diagnostic):
        finding.command = "RCPT"
    ndr = _NDR_CODE.search(finding.diagnostic)
    finding.hint = _NDR_CODES.get(ndr.group(1).rstrip(";."), "") if ndr else ""
    if not finding.hint and finding.status:
        finding.hint = next((r for p, r in _STATUS_HINTS if p.match(finding.status)), "")
