"""qmail (cr.yp.to/qmail) bounces and its many clones.

qmail-send writes "Hi. This is the qmail-send program at ...", then per recipient
"<addr>:" followed by the reason, and "--- Below this line is a copy of the message."
qmail-remote.c explains which SMTP step failed in fixed words, used for the command.
"""

from __future__ import annotations

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_TITLES = ("failure notice", "Failure Notice")
_BOUNDARIES = (
    "--- Below this line is a copy of the message.",
    "--- Below this line is a copy of the mail header.",
    "--- Below the next line is a copy of the message.",
    "--- Mensaje original adjunto.",
    "Content-Type: message/rfc822",
    "Original message follows.",
)
_STARTS = (
    "Hi. This is the qmail",
    "He/Her is not ",
    "unable to deliver your message to the following addresses",
    "Su mensaje no pudo ser entregado",
    "Sorry, we were unable to deliver your message to the following address",
    "This is the machine generated message from mail service",
    "This is the mail delivery agent at",
    "Unable to deliver message to the following address",
    "Unfortunately, your mail was not delivered to the following address:",
    "Your mail message to the following address",
    "Your message to the following addresses",
    "We're sorry.",
)
# qmail-remote.c: which step of the SMTP session failed.
_COMMANDS = {
    "CONN": (" but greeting failed.",),
    "EHLO": (" but my name was rejected.",),
    "MAIL": (" but sender was rejected.",),
    "RCPT": (" does not like recipient.",),
    "DATA": (" failed on DATA command", " failed after I sent the message"),
}
_HINTS = {
    "hostunknown": ("sorry, i couldn't find any host ",),
    "mailboxfull": ("disk quota exceeded",),  # error_str.c: EDQUOT
    "mesgtoobig": ("message size exceeds fixed maximum message size:",),
    "networkerror": (
        "sorry, i wasn't able to establish an smtp connection",
        "sorry. although i'm listed as a best-preference mx or a for that host",
    ),
    "notaccept": ("sorry, i couldn't find a mail exchanger or ip address",),  # null MX
    "systemerror": ("bad interpreter: no such file or directory", "system error", "unable to"),
    "systemfull": ("requested action not taken: mailbox unavailable (not enough free space)",),
    "userunknown": ("no mailbox here by that name",),
    # qmail-ldap patch
    "exceedlimit": ("the message exeeded the maximum size the user accepts",),
    "suspend": (
        "mailaddress is administrativly disabled",
        "mailaddress is administrativley disabled",
        "mailaddress is administratively disabled",
        "mailaddress is administrativeley disabled",
    ),
}
_LDAP_SYSTEM = (
    "automatic homedir creator crashed",
    "illegal value in ldap attribute",
    "ldap attribute is not given but mandatory",
    "timeout while performing search on ldap server",
    "too many results returned but needs to be unique",
    "permanent error while executing qmail-forward",
    "temporary error in automatic homedir creation",
    "temporary error while executing qmail-forward",
    "temporary failure in ldap lookup",
    "unable to contact ldap server",
    "unable to login into ldap server, bad credentials",
)
_EXPIRED = "this message has been in the queue too long."


def detect(mail: Mail) -> Detection | None:
    if mail.subject not in _TITLES and not any(
        "(qmail " in r for r in mail.headers_all("received")
    ):
        return None
    body = common.after(common.cut_at(mail.text, _BOUNDARIES), _STARTS)
    findings = _findings(body)
    for finding in findings:
        _interpret(finding)
    return Detection("qmail", findings) if findings else None


def _findings(body: str) -> list[Finding]:
    findings: list[Finding] = []
    for line in body.split("\n")[1:]:
        if not line.strip():
            continue
        if line.startswith("<") and ">:" in line and "@" in line:
            address = addresses.clean(line[1 : line.index(">:")])
            if address:
                findings.append(Finding(address=address, action="failed"))
                continue
        if findings:
            findings[-1].diagnostic += line + " "
            _remote_host(findings[-1], line)
    return findings


def _remote_host(finding: Finding, line: str) -> None:
    for marker in ("Giving up on ", "Connected to ", "remote host "):
        at = line.find(marker)
        if at >= 0 and not finding.remote_mta:
            finding.remote_mta = line[at + len(marker) :].split(" ")[0].rstrip(".")


def _interpret(finding: Finding) -> None:
    text = common.sweep(finding.diagnostic)
    finding.diagnostic = text
    finding.command = next((c for c, ps in _COMMANDS.items() if any(p in text for p in ps)), "")
    if not finding.command and "no SMTP connection got far enough" in text:
        finding.command = smtp.find_command(text)
    lowered = text.lower()
    if finding.command in ("EHLO", "HELO"):
        finding.hint = "blocked"
    elif " does not like recipient." in text and _EXPIRED in lowered:
        finding.hint = "onhold"
    else:
        finding.hint = common.hint_for(lowered, _HINTS)
        if not finding.hint and any(p in lowered for p in _LDAP_SYSTEM):
            finding.hint = "systemerror"
        if not finding.hint and _EXPIRED in lowered:
            finding.hint = "expired"
    finding.command = finding.command or smtp.find_command(text)
