"""Sendmail (V8) DSNs: the machine-readable part, read together with the
"----- Transcript of session follows -----" section (savemail.c), whose ">>>" lines
name the SMTP command and whose "<<<" lines quote the remote server verbatim."""

from __future__ import annotations

from bounces import addresses, dsn, smtp
from bounces.context import Detection, Finding, Mail
from bounces.status import find_reply, find_status

_START = "----- Transcript of session follows -----"


def detect(mail: Mail) -> Detection | None:
    subject = mail.subject
    if not (subject.startswith("Warning: ") or subject.endswith("see transcript for details")):
        return None
    if mail.header("x-aol-ip") or _START not in mail.text:
        return None
    blocks = mail.dsn_blocks or dsn.blocks_in_text(mail.text)
    findings = dsn.findings_from_blocks(blocks)
    if not findings:
        return None
    transcript = _Transcript(transcript_of(mail.text))
    for finding in findings:
        transcript.apply(finding, single=len(findings) == 1)
    return Detection("sendmail", findings, reporter=dsn.reporting_mta(blocks))


def transcript_of(text: str) -> str:
    at = text.find(_START)
    return text[at + len(_START) :] if at >= 0 else ""


class _Transcript:
    """What the transcript says: first command sent, replies received, other errors."""

    def __init__(self, text: str) -> None:
        self.command = ""
        self.replies: list[str] = []
        self.other = ""
        self.other_status = ""
        talking = False
        for line in text.split("\n")[:400]:
            if not line or line.startswith(" "):
                continue
            if line.startswith(">>> "):
                self.command = self.command or smtp.find_command(line)
            elif line.startswith("<<< "):
                if line[4:] not in self.replies:
                    self.replies.append(line[4:])
            elif not talking:
                talking = self._read_other(line)

    def _read_other(self, line: str) -> bool:
        if line.startswith("... while talking to "):
            return True
        if line.startswith("<") and "@" in line and ">" in line:
            # "<kijitora@example.co.jp>... Deferred: Name server: ...: host name lookup failure"
            self.other = line.split(" ", 1)[1] if " " in line else ""
        elif len(find_reply(line) + find_status(line)) > 7:
            self.other_status = find_status(line)
            self.other += " " + line
        elif line.startswith(("Message: ", "Warning: ")):
            self.other += " " + line
        return False

    def apply(self, finding: Finding, single: bool) -> None:
        diagnostic = finding.diagnostic
        if self.other.strip() and (not diagnostic.strip() or diagnostic.strip().isdigit()):
            diagnostic = self.other
        if self.replies and single:
            said = " ".join(self.replies)
            same = " ".join(said.split()) == " ".join(diagnostic.split())
            diagnostic = diagnostic if same else f"{said} {diagnostic}"
        finding.diagnostic = " ".join(diagnostic.split())
        finding.command = self.command or smtp.find_command(finding.diagnostic)
        if not finding.command and self.replies:
            finding.command = "EHLO"
        if self.other_status and not finding.status:
            finding.status = self.other_status
        if finding.address.startswith("@"):
            found = addresses.find_all(finding.diagnostic)
            finding.address = found[0] if found else finding.address
