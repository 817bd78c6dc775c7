"""OpenSMTPD bounces (smtpd/bounce.c): "This is the MAILER-DAEMON, please DO NOT REPLY",
then one "recipient: reason" line per address, then "Below is a copy of the original
message:". Its own failure strings (smtpd/mta.c, queue.c) name the reason."""

from __future__ import annotations

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("    Below is a copy of the original message:", "Below is a copy of the original")
_START = "This is the MAILER-DAEMON, please DO NOT REPLY to this"
_HINTS = {
    "expired": ("envelope expired",),
    "securityerror": ("could not retrieve credentials",),
    "hostunknown": ("invalid domain name", "domain does not exist"),
    "networkerror": (
        "address family mismatch on destination mxs",
        "all routes to destination blocked",
        "bad dns lookup error code",
        "could not retrieve source address",
        "loop detected",
        "network error on destination mxs",
        "no valid route to remote mx",
        "no valid route to destination",
        "temporary failure in mx lookup",
    ),
    "notaccept": (
        "destination seem to reject all mails",
        "no mx found for domain",
        "no mx found for destination",
    ),
}


def detect(mail: Mail) -> Detection | None:
    if not _is_opensmtpd(mail):
        return None
    body = common.after(common.cut_at(mail.text, _BOUNDARIES), (_START,))
    delayed = "A message is delayed for more than" in body
    findings = []
    for line in body.split("\n")[1:]:
        head, sep, message = line.partition(": ")
        address = addresses.clean(head) if sep and "@" in head and " " not in head.strip() else ""
        if address:
            text = common.sweep(message)
            findings.append(
                Finding(
                    address=address,
                    diagnostic=text,
                    action="delayed" if delayed else "failed",
                    command=smtp.find_command(text),
                    hint=common.hint_for(text, _HINTS),
                )
            )
    return Detection("opensmtpd", findings) if findings else None


def _is_opensmtpd(mail: Mail) -> bool:
    if any(" (OpenSMTPD) with " in r for r in mail.headers_all("received")):
        return True
    return "Delivery status notification" in mail.subject and "Mailer Daemon <" in mail.sender
