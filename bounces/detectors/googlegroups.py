"""Google Groups: "the group you tried to contact (...) may not exist, or you may not
have permission to post messages to the group"; recipients in X-Failed-Recipients."""

from __future__ import annotations

import re

from bounces import addresses
from bounces.context import Detection, Finding, Mail
from bounces.detectors import common

_BULLET = re.compile(r"^ ?\*", re.M)
_BOUNDARIES = ("----- Original message -----", "Content-Type: message/rfc822")


def detect(mail: Mail) -> Detection | None:
    if "<mailer-daemon@googlemail.com>" not in mail.sender:
        return None
    if "Delivery Status Notification" not in mail.subject or not mail.header(
        "x-google-smtp-source"
    ):
        return None
    failed = addresses.find_all(mail.header("x-failed-recipients"))
    notice = common.cut_at(mail.text, _BOUNDARIES)
    if not failed or "Google Groups" not in notice:
        return None
    # The four bullet points list why a post to a group is refused: the sender is not
    # allowed to post there (Sisimai: "rejected"); anything else stays undecided.
    bullets = len(_BULLET.findall(notice))
    hint = "rejected" if bullets >= 4 else "onhold"
    diagnostic = common.sweep(notice)
    findings = [
        Finding(address=a, diagnostic=diagnostic, hint=hint, action="failed") for a in failed
    ]
    return Detection("googlegroups", findings)
