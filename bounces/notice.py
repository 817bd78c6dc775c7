"""Whether a report without RFC 3464 Action fields is a delay warning or a give-up.

A DSN says per recipient whether the message failed or is delayed (RFC 3464 §2.3.3), and
family detectors read their MTA's own notices. For any other text notice the relay still
has to know which it is: a give-up bounces the recipient, a warning must not, since the
sender's MTA keeps trying (RFC 5321 §4.5.4.1). The notice's own words decide, first the
give-up words (a give-up often repeats the earlier warning's words), then the warning's.
"""

from __future__ import annotations

import re

from bounces.context import Mail
from bounces.detectors import common

# What MTAs write in a delay warning, and only there:
#   Postfix "Delayed Mail (still being retried)", "THIS IS A WARNING ONLY. YOU DO NOT NEED
#   TO RESEND YOUR MESSAGE"; Sendmail "Warning: could not send message for past 4 hours",
#   "THIS IS A WARNING MESSAGE ONLY", "Will keep trying until message is 5 days old";
#   Exim "Warning: message ... delayed", "No action is required on your part. Delivery
#   attempts will continue"; Exchange "Delivery Status Notification (Delay)", "Delivery is
#   delayed to these recipients", "will continue to be attempted"; Gmail "Message will be
#   retried for 2 more day(s)"; OpenSMTPD "this is only a temporary failure report".
# A subject's "Warning" alone proves nothing: MDaemon writes "Warning: <address> - User
# unknown!" for a permanent failure.
_WARNING_SUBJECT = re.compile(
    r"^warning\b.*\b(?:delayed?|could not send|for (?:the )?past)\b"
    r"|^(?:delayed mail|delivery delayed|delay(?:ed)?\b)|still being retried|\(delay\)",
    re.I,
)
_WARNING_TEXT = re.compile(
    r"this is (?:a |just a |only a )?warning|you do not need to resend|still being retried"
    r"|will keep trying|no action is required on your part|delivery attempts will continue"
    r"|will continue to (?:be attempted|attempt|try)|will be retried"
    r"|has not yet been delivered|delivery is delayed|only a temporary failure report",
    re.I,
)
# A give-up says so (qmail "I'm not going to try again", Exim "retry timeout exceeded" with
# "This is a permanent error", Sendmail "Message will be deleted from queue").
_GIVE_UP_TEXT = re.compile(
    r"permanent error|not going to try again|giving up|gave up|will not be retried"
    r"|deleted from (?:the )?queue|has been returned",
    re.I,
)


def still_retrying(mail: Mail) -> bool:
    """The notice is a delay warning: the sender's MTA has not given up."""
    text = common.notice_text(mail)
    if _GIVE_UP_TEXT.search(text):
        return False
    return bool(_WARNING_SUBJECT.search(mail.subject.strip()) or _WARNING_TEXT.search(text))
