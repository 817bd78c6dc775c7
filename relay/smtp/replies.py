"""Every SMTP reply the relay sends, named once (RFC 5321 4.2, enhanced codes RFC 3463)."""

QUEUED = "250 2.0.0 Ok: queued as {id}"
RCPT_OK = "250 2.1.5 Ok"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients in one message; send the rest separately"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
# RFC 4954 6: 454 4.7.0 is a temporary authentication failure (relay.smtp.auth's throttle).
AUTH_THROTTLED = (
    "454 4.7.0 Too many failed logins from your address; try again in {seconds} seconds"
)
AUTH_UNAVAILABLE = "454 4.7.0 Temporary authentication failure, try again later"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
BARE_LINE_ENDING = (
    "550 5.6.0 Message refused: bare CR or LF in the data; lines must end with CRLF"
    " (RFC 5321 2.3.8)"
)
TOO_BIG = "552 5.3.4 Message too big: the limit is {limit} bytes"
TOO_MANY_SESSIONS = "421 4.3.2 Too many sessions, try again later"
INTERNAL_ERROR = "451 4.3.0 Internal error, message not accepted; try again later"
NEED_RCPT = "503 5.5.1 Need RCPT command first"
DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
START_DATA = "354 End data with <CR><LF>.<CR><LF>"
NO_SUCH_USER = "550 5.1.1 No such mailbox here"
REPORT_STORED = "250 2.0.0 Ok: report stored as {id}"
