"""Postfix bounces (bounce(5)): the DSN, read together with the notice part, where each
recipient has a paragraph "<addr>: host mx[ip] said: 550 ... (in reply to RCPT TO
command)" that names the SMTP command and often quotes more of the reply."""

from __future__ import annotations

import re

from bounces import addresses, dsn, smtp
from bounces.context import Detection, Finding, Mail
from bounces.status import find_reply, find_status

# [ \t]*, not \s*: with re.M, \s* at every line start would run over all the blank lines that
# follow, quadratic in a run of them (a 10 MB report of empty lines: hours).
_STARTS = re.compile(r"^[ \t]*(?:The |This is the ).*(?:Postfix|mail system|program)", re.M)
_PARAGRAPH = re.compile(
    r"^<(?P<addr>[^<>\s@]+@[^<>\s]+)>(?: \(expanded from <(?P<alias>[^<>]+)>\))?: ?(?P<text>.*)$"
)
# Bounded: an unbounded `.*?` ran to the end of the text from every "(in reply to ".
_IN_REPLY = re.compile(r"\(in reply to (.{0,500}?) command\)", re.S)


def detect(mail: Mail) -> Detection | None:
    if mail.subject != "Undelivered Mail Returned to Sender" or mail.header("x-aol-ip"):
        return None
    if not _STARTS.search(mail.text):
        return None
    paragraphs = _paragraphs(mail.text)
    blocks = mail.dsn_blocks or dsn.blocks_in_text(mail.text)
    findings = dsn.findings_from_blocks(blocks)
    if not findings:
        findings = [Finding(address=a) for a in paragraphs][:1] or _unavailable(mail)
    for finding in findings:
        _complete(finding, paragraphs.get(finding.address.lower(), ""), paragraphs)
    return Detection("postfix", findings, reporter=dsn.reporting_mta(blocks)) if findings else None


def _paragraphs(text: str) -> dict[str, str]:
    """'<addr>: reason...' paragraphs of the notice, keyed by lower-cased address."""
    found: dict[str, str] = {}
    current = ""
    for line in text.split("\n")[:2000]:
        match = _PARAGRAPH.match(line)
        if match:
            current = match.group("addr").lower()
            found[current] = match.group("text")
        elif current and line.strip():
            found[current] += " " + line.strip()
        elif current:
            current = ""
    return {a: " ".join(t.split()) for a, t in found.items()}


def _unavailable(mail: Mail) -> list[Finding]:
    """ "--- Delivery report unavailable ---": only the returned message says to whom."""
    if "--- delivery report unavailable ---" not in mail.text.lower():
        return []
    found = addresses.find_all(mail.returned("to"))
    return [Finding(address=found[0])] if found else []


def _complete(finding: Finding, paragraph: str, paragraphs: dict[str, str]) -> None:
    if finding.spec == "X-POSTFIX":
        finding.spec = "SMTP"
    diagnostic = " ".join(finding.diagnostic.split())
    if paragraph:
        quotes_more = diagnostic in paragraph and (find_status(paragraph) or find_reply(paragraph))
        if not diagnostic or diagnostic.isdigit() or quotes_more:
            diagnostic = paragraph
        if not finding.status or finding.status.endswith(".0.0"):
            better = find_status(paragraph)
            finding.status = better if better and not better.endswith(".0.0") else finding.status
    finding.diagnostic = diagnostic
    commands = [smtp.find_command(m.group(1).upper()) for m in _IN_REPLY.finditer(paragraph)]
    if not commands:
        first = next((p for p in paragraphs.values() if _IN_REPLY.search(p)), "")
        commands = [smtp.find_command(m.group(1).upper()) for m in _IN_REPLY.finditer(first)]
    finding.command = next((c for c in commands if c), "") or smtp.find_command(diagnostic)
    if not finding.command and "refused to talk to me:" in diagnostic:
        finding.command = "HELO"
    if not finding.spec and " said:" in diagnostic and "host " in diagnostic:
        finding.spec = "SMTP"
