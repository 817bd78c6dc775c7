"""OpenSMTPD bounces (smtpd/bounce.c): "This is the MAILER-DAEMON, please DO NOT REPLY",
then one "recipient: reason" line per address, then "Below is a copy of the original
message:". Its own failure strings (smtpd/mta.c, queue.c) name the reason.

bounce.c has one notice per kind: an error, a delay warning ("A message is delayed for
more than ..."), a success ("successfully delivered", or "relayed" when the next hop has
no DSN, RFC 3461 §6.2.3). OpenSMTPD 6.8 sends its queue-lifetime give-up ("Envelope
expired", queue.c) in the warning's words; it is a failure all the same."""

from __future__ import annotations

from bounces import addresses, smtp
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BOUNDARIES = ("    Below is a copy of the original message:", "Below is a copy of the original")
_START = "This is the MAILER-DAEMON, please DO NOT REPLY to this"
_DELAYED = "A message is delayed for more than"
_SUCCESS = {
    "Your message was successfully delivered to these recipients": "delivered",
    "Your message was relayed to these recipients": "relayed",
}
_GIVE_UP = "envelope expired"
_HINTS = {
    "expired": ("envelope expired",),
    "mesgtoobig": ("message too large for peer",),  # mta.c: larger than the peer's SIZE
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
    notice = _notice_action(body)
    findings = []
    for line in body.split("\n")[1:]:
        head, sep, message = line.partition(":")
        address = addresses.clean(head) if sep and "@" in head and " " not in head.strip() else ""
        if address:
            findings.append(_finding(address, common.sweep(message), notice))
    return Detection("opensmtpd", findings) if findings else None


def _notice_action(body: str) -> str:
    """RFC 3464 §2.3.3 action of the notice's recipients, from its bounce.c wording."""
    if _DELAYED in body:
        return "delayed"
    return next((action for words, action in _SUCCESS.items() if words in body), "failed")


def _finding(address: str, text: str, notice: str) -> Finding:
    gave_up = _GIVE_UP in text.lower()
    action = "failed" if gave_up else notice
    hint = "delivered" if action in ("delivered", "relayed") else common.hint_for(text, _HINTS)
    return Finding(
        address=address,
        diagnostic=text,
        action=action,
        command=smtp.find_command(text),
        hint=hint,
    )


def _is_opensmtpd(mail: Mail) -> bool:
    if any(" (OpenSMTPD) with " in r for r in mail.headers_all("received")):
        return True
    return "Delivery status notification" in mail.subject and "Mailer Daemon <" in mail.sender
