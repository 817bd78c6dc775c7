"""RFC 3834 automatic responses (vacation, out of office): never a delivery failure.

§5 asks responders to send "Auto-Submitted: auto-replied"; many older ones only
say so in X-Autoreply, X-Autorespond, Precedence or the subject. Bounces from
some MTAs (Exim, Postfix) carry the same Auto-Submitted value, so this detector
runs after the bounce detectors and refuses anything that reads like a bounce.
"""

from __future__ import annotations

import re

from bounces import addresses
from bounces.context import Detection, Finding, Mail

_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ _-]?(?:reply|response|antwort|respons)|auto:|"
    r"out of (?:the )?office|ooo\b|away\b|vacation|on vacation|abwesenheit|"
    r"r[ée]ponse automatique|absence|respuesta autom[aá]tica|risposta automatica|"
    r"autosvar|fuera de la oficina|I am away|I am out)",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|fail|notif)|returned mail|failure notice|mail delivery|"
    r"non[- ]?delivery|could not be delivered|delivery problem|rejected|\bbounce",
    re.I,
)


def detect(mail: Mail) -> Detection | None:
    if not _is_auto_reply(mail) or _reads_like_bounce(mail):
        return None
    found = addresses.find_all(mail.sender)
    responder = found[0] if found else ""
    findings = [Finding(address=responder, hint="vacation")] if responder else []
    return Detection("rfc3834", findings, kind="autoreply")


def _is_auto_reply(mail: Mail) -> bool:
    auto = mail.header("auto-submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    if mail.header("x-autoreply") or mail.header("x-autorespond"):
        return True
    if mail.header("precedence").lower() == "auto_reply":
        return True
    if mail.header("x-apple-action").upper() == "VACATION":
        return True
    return bool(_SUBJECT.search(mail.subject))


def _reads_like_bounce(mail: Mail) -> bool:
    sender = addresses.find_all(mail.sender)
    if sender and addresses.is_mailer_daemon(sender[0]):
        return True
    if "mailer-daemon" in mail.sender.lower() or "mail delivery" in mail.sender.lower():
        return True
    return bool(_BOUNCE_SUBJECT.search(mail.subject))
