"""Every SMTP reply the relay sends, named once (RFC 5321 4.2, enhanced codes RFC 3463).

A reply that shows what the client sent quotes it with `quote()`, and every reply goes out
through `fit()`: RFC 5321 4.5.3.1.5 allows 512 octets per reply line, CRLF included.
"""

QUEUED = "250 2.0.0 Ok: queued as {id}"
RCPT_OK = "250 2.1.5 Ok"
BAD_RECIPIENT = "553 5.1.3 <{address}> is not a valid address: {why}"  # RFC 3463 X.1.3
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients in one message; send the rest separately"
# relay.inbound.quota: a sender's reports that proved nothing, past the day's cap.
UNMATCHED_REPORTS = (
    "452 4.7.1 Too many reports today from this sender that match no message of ours;"
    " try again tomorrow"
)
RENDER_TOO_SLOW = "451 4.3.0 Rendering the message took over {seconds:g} s; try again later"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
# RFC 4954 6: 454 4.7.0 is a temporary authentication failure (relay.smtp.auth's throttle).
AUTH_THROTTLED = (
    "454 4.7.0 Too many failed logins from your address; try again in {seconds} seconds"
)
AUTH_UNAVAILABLE = "454 4.7.0 Temporary authentication failure, try again later"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
NO_AUTH_HERE = "502 5.5.1 AUTH is not offered here: this port takes bounces and complaints only"
BARE_LINE_ENDING = (
    "550 5.6.0 Message refused: bare CR or LF in the data; lines must end with CRLF"
    " (RFC 5321 2.3.8)"
)
NUL_IN_DATA = "550 5.6.0 Message refused: a NUL byte in line {line} (RFC 5322 2.3, RFC 6152)"
LINE_TOO_LONG = (
    "550 5.6.0 Message refused: line {line} is longer than 998 characters plus CRLF"
    " (RFC 5321 4.5.3.1.6); wrap it or use quoted-printable"
)
MALFORMED = "550 5.6.0 Malformed message: {detail}"
TOO_BIG = "552 5.3.4 Message too big: the limit is {limit} bytes"
TOO_MANY_SESSIONS = "421 4.3.2 Too many sessions, try again later"
TOO_MANY_FROM_ADDRESS = (
    "421 4.7.0 Too many unauthenticated sessions from your address; log in or close some"
)
MADE_ROOM = "421 4.7.0 Closing: not authenticated, and a newer session needs the room"
AUTH_TIMEOUT = "421 4.7.0 Closing: no successful AUTH within {seconds:g} seconds of connecting"
INTERNAL_ERROR = "451 4.3.0 Internal error, message not accepted; try again later"
SPOOL_FAILED = "451 4.3.0 Cannot hold the message here right now (local storage); try again later"
NEED_RCPT = "503 5.5.1 Need RCPT command first"
DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
START_DATA = "354 End data with <CR><LF>.<CR><LF>"
NO_SUCH_USER = "550 5.1.1 No such mailbox here"
REPORT_STORED = "250 2.0.0 Ok: report stored as {id}"

MAX_LINE = 510  # RFC 5321 4.5.3.1.5: 512 octets with the CRLF


def escaped(value: str | bytes, limit: int = 64) -> str:
    """A client's value made safe to show in a reply: non-printable and non-ASCII characters
    escaped (\\x1b, \\xfc: replies are US-ASCII, RFC 5321 2.4), cut to `limit` characters."""
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    shown = "".join(
        char if " " <= char <= "~" else char.encode("unicode_escape").decode("ascii")
        for char in text[: limit + 1]
    )
    if len(text) > limit or len(shown) > limit:
        shown = shown[:limit] + "..."
    return shown


def quote(value: str | bytes, limit: int = 64) -> str:
    """`escaped`, in quotes."""
    return f"'{escaped(value, limit)}'"


def fit(reply: str) -> str:
    """One reply line within RFC 5321's 512 octets."""
    if len(reply) <= MAX_LINE // 4:  # four octets a character at most: surely short enough
        return reply
    encoded = reply.encode("utf-8")
    if len(encoded) <= MAX_LINE:
        return reply
    return encoded[: MAX_LINE - 3].decode("utf-8", "ignore") + "..."
