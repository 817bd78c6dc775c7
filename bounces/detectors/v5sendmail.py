"""Sendmail version 5 bounces (savemail.c): no DSN part, a session transcript with
">>> RCPT To:<addr>" / "550 <addr>... User unknown" lines, then "----- Unsent message
follows -----". Without any address, the returned message's To: is the recipient."""

from __future__ import annotations

import re

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common
from bounces.smtp import remote_host_in

_BOUNDARIES = ("   ----- Unsent message follows -----", "  ----- No message was collected -----")
_START = "----- Transcript of session follows -----"
# The local part holds no "@": `[^<>\s]+@` backtracked over every "@" of a long token.
_ADDRESSED = re.compile(r" <([^<>\s@]+@[^<>\s]+)>\.\.\.|>>> RCPT TO:\s*<([^<>\s]+)>", re.I)


def detect(mail: Mail) -> Detection | None:
    if not mail.subject.startswith("Returned mail: "):
        return None
    if not any(boundary in mail.text for boundary in _BOUNDARIES):
        return None
    body = common.after(common.cut_at(mail.text, _BOUNDARIES), (_START,))
    if not body:
        return None
    findings, other = _read(body.split("\n")[1:400])
    if not findings:
        found = addresses.find_all(other) or addresses.find_all(mail.returned("to"))
        findings = [Finding(address=found[0], diagnostic=other)] if found else []
    for finding in findings:
        finding.diagnostic = common.sweep(finding.diagnostic or other)
        finding.command = finding.command or smtp.find_command(finding.diagnostic)
    return Detection("v5sendmail", findings) if findings else None


def _read(lines: list[str]) -> tuple[list[Finding], str]:
    findings: list[Finding] = []
    other, remote, command, pending = "", "", "", ""
    for line in lines:
        if not line.strip():
            continue
        if line.startswith(">>> "):
            command = smtp.find_command(line[4:])
        addressed = _ADDRESSED.search(line)
        if addressed and remote:
            address = addresses.clean(addressed.group(1) or addressed.group(2) or "")
            if findings and address.lower() == findings[-1].address.lower():
                findings[-1].diagnostic += " " + line
            elif address:
                text = f"{pending} {line}" if not findings else line
                findings.append(
                    Finding(address, diagnostic=text, remote_mta=remote, command=command)
                )
        elif "While talking to " in line:
            remote = remote_host_in("talking to " + line.split("While talking to ", 1)[1])
        elif line.startswith((">>> ", "<<< ")):
            if findings:
                findings[-1].diagnostic += " " + line
            else:
                pending += " " + line
        else:
            other += " " + line
    return findings, other
