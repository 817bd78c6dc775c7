"""Last resort for bounces no family detector recognised.

A human-readable bounce nearly always lists each failed address on a line of its
own (bare, in <>, after "> ", or followed by ":"), with the remote server's reply
on the same or the following lines, and then a copy of the original message.
"""

from __future__ import annotations

import re

from bounces import addresses, smtp, status
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common
from bounces.dsn import paragraph_about

_ADDRESS_LINE = re.compile(
    r"^[ \t>*\-]*(?:(?:original |final |failed |unknown |bad )?(?:recipient|address|to|rcpt to"
    r"|user|mailbox|e-?mail)s?(?:\s+address)?\s*[:=]\s*)?"
    r"[\"']?<?(?P<addr>[^\s<>@\"']{1,200}@[^\s<>\"']{1,255})>?[\"']?"
    r"(?P<rest>(?:[\s:;,(].*)?)$",
    re.I,
)


def detect(mail: Mail) -> Detection | None:
    if not common.looks_like_bounce(mail):
        return None
    text = common.notice_text(mail)
    findings = _failed_recipients_header(mail, text) or find_listed(text, mail)
    if not findings:
        findings = _cued_address(text, mail) or _any_address(text, mail)
        findings = findings or _returned_recipient(mail)
    if not findings:
        return None
    if len(findings) > 1:
        _explain_bare(findings, text)
    if len(findings) == 1:
        # One failed address: the whole notice explains it (the reason is often
        # given before the address, or in a paragraph of its own after it).
        findings[0].diagnostic = common.sweep(text)[:4000]
        findings[0].command = findings[0].command or smtp.find_command(text)
    return Detection("generic", findings)


def _explain_bare(findings: list[Finding], text: str) -> None:
    """Addresses listed without a reply of their own share the notice's explanation,
    which comes before the list ("... was not delivered within 2 days. The following
    recipients did not receive your message: <a> <b>")."""
    first = min((text.find(f.address) for f in findings if f.address in text), default=-1)
    lead = common.sweep(text[:first]) if first > 0 else ""
    for finding in findings:
        if lead and not (
            status.find_reply(finding.diagnostic) or status.find_status(finding.diagnostic)
        ):
            finding.diagnostic = common.sweep(f"{lead} {finding.diagnostic}")[:4000]


def find_listed(text: str, mail: Mail) -> list[Finding]:
    """Addresses standing on their own line, each with the text that follows it."""
    lines = text.split("\n")
    skip = common.own_addresses(mail)
    findings: list[Finding] = []
    for number, line in enumerate(lines[:2000]):
        match = _ADDRESS_LINE.match(line)
        if not match:
            continue
        address = addresses.clean(match.group("addr"))
        if not address or address.lower() in skip or addresses.is_mailer_daemon(address):
            continue
        if any(f.address.lower() == address.lower() for f in findings):
            continue
        diagnostic = _following(match.group("rest"), lines[number + 1 : number + 12])
        findings.append(_finding(address, diagnostic))
    return findings


def _following(rest: str, after: list[str]) -> str:
    """The reply text: the rest of the address line and the indented lines after it."""
    collected = [rest.strip(" :;,-")] if rest.strip(" :;,-.") else []
    for line in after:
        if not line.strip():
            if collected:
                break
            continue
        if _ADDRESS_LINE.match(line) and collected:
            break
        collected.append(line.strip())
    return " ".join(collected)


# "The following message, addressed to 'user@...', failed", "could not be delivered
# to user@...": an address in running text, named as the one the message was for.
_CUED = re.compile(
    r"\b(?:addressed(?: to)?|deliver(?:ed|y)? to|sent to|recipients?)[\s:,'\"<]{1,4}"
    r"(?P<addr>[^\s<>@\"',;]{1,200}@[^\s<>\"',;]{1,255})",
    re.I,
)


def _cued_address(text: str, mail: Mail) -> list[Finding]:
    skip = common.own_addresses(mail)
    for match in _CUED.finditer(text):
        address = addresses.clean(match.group("addr"))
        if address and address.lower() not in skip and not addresses.is_mailer_daemon(address):
            return [_finding(address, paragraph_about(text, address))]
    return []


def _any_address(text: str, mail: Mail) -> list[Finding]:
    skip = common.own_addresses(mail)
    for address in addresses.find_all(text):
        if address.lower() in skip or addresses.is_mailer_daemon(address):
            continue
        return [_finding(address, paragraph_about(text, address))]
    return []


def _failed_recipients_header(mail: Mail, text: str) -> list[Finding]:
    """X-Failed-Recipients (Exim, Google): the reporting MTA names them outright."""
    found = addresses.find_all(mail.header("x-failed-recipients"))
    return [_finding(a, paragraph_about(text, a) or common.sweep(text)) for a in found]


def _returned_recipient(mail: Mail) -> list[Finding]:
    """No address in the notice: the returned message says to whom it was sent."""
    found = addresses.find_all(mail.returned("to"))
    return [_finding(found[0], common.sweep(common.notice_text(mail)))] if found else []


def _finding(address: str, diagnostic: str) -> Finding:
    return Finding(address=address, diagnostic=diagnostic, command=smtp.find_command(diagnostic))
