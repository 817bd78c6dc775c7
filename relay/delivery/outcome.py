"""One value for every delivery result: a real SMTP reply or a synthesised one."""

import re
from dataclasses import dataclass

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def _readable(message: str) -> str:
    """The server's words as clean Unicode that every store, log and webhook can take.

    aiosmtplib decodes replies with `surrogateescape`: an 8-bit byte (older servers answer in
    Latin-1 although RFC 5321 4.2 asks for ASCII) stays a lone surrogate, which SQLite and
    psycopg refuse to store, so the result of a delivery would be lost. UTF-8 where the bytes
    are UTF-8, else Latin-1 (every byte a character: nothing the server said is dropped).
    """
    try:
        raw = message.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte could have made: replace it
        return message.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass(frozen=True)
class Reply:
    code: int
    status: str | None  # enhanced status code (RFC 3463), from the text or synthesised
    text: str
    synthetic: bool = False  # made up by us (connection refused, timeout, DNS ...)
    command: str | None = None  # the SMTP command it answered: "550 user unknown" after RCPT
    # proves the mailbox absent, after DATA it is a content filter (the classifier needs it)

    @classmethod
    def from_server(cls, code: int, message: str, command: str | None = None) -> "Reply":
        text = " ".join(_readable(message).split())
        match = _ENHANCED.match(text)
        status = match.group(1) if match else None
        if match:
            text = text[match.end() :].strip()
        return cls(code, status, text, command=command)

    @classmethod
    def synthetic_reply(cls, code: int, status: str, text: str) -> "Reply":
        return cls(code, status, text, synthetic=True)

    def __str__(self) -> str:
        # The relay's own finding (DNS, a refused connection) is said in its own words: a
        # basic code before it would read like a remote server's reply (issue 14).
        if self.synthetic:
            return self.text
        return " ".join(p for p in (str(self.code), self.status or "", self.text) if p)


@dataclass(frozen=True)
class Attempt:
    """What one try for one recipient produced."""

    reply: Reply
    mx_host: str | None
    tls: bool
    duration_ms: int
