"""DragonFly Mail Agent (dma) bounces.

dma (mail.c, net.c) writes "There was an error delivering your mail to <addr>.",
then "<host> [<ip>] did not like our <COMMAND>:" and the remote reply.
"""

from __future__ import annotations

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("Original message follows.", "Message headers follow")
_START = "This is the DragonFly Mail Agent "
_RECIPIENT = "There was an error delivering your mail to <"
_HINTS = {
    "expired": ("could not deliver for the last ",),  # dma.c: "... seconds. Giving up."
    "hostunknown": ("dns lookup failure: host ",),  # net.c
}


def detect(mail: Mail) -> Detection | None:
    if "Mail delivery failed" not in mail.subject:
        return None
    if not any("(DragonFly Mail Agent" in r for r in mail.headers_all("received")):
        return None
    body = common.after(common.cut_at(mail.text, _BOUNDARIES), (_START,))
    findings: list[Finding] = []
    for line in body.split("\n")[1:]:
        if not line.strip():
            continue
        if line.startswith(_RECIPIENT):
            address = addresses.clean(line[len(_RECIPIENT) - 1 :].split(">")[0])
            if address:
                findings.append(Finding(address=address, action="failed"))
        elif findings:
            _read_line(findings[-1], line)
    for finding in findings:
        finding.diagnostic = common.sweep(finding.diagnostic)
        finding.hint = common.hint_for(finding.diagnostic, _HINTS)
    return Detection("dragonfly", findings) if findings else None


def _read_line(finding: Finding, line: str) -> None:
    finding.diagnostic += " " + line
    if " did not like our " in line and not finding.remote_mta:
        words = line.split(" ", 2)
        finding.remote_mta = words[0] if "." in words[0] else words[1]
        finding.command = smtp.find_command(line)
