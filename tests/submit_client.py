"""Submit many messages concurrently with smtplib (STARTTLS + AUTH), remembering what was sent."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.harness import SHOP, SHOP_PASSWORD


@dataclass(frozen=True)
class Sent:
    queue_id: str
    body_sha256: str  # of the body after the header block (the relay never rewrites it)


def _context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def body_of(message: bytes) -> bytes:
    return message.split(b"\r\n\r\n", 1)[1]


def message_bytes(sender: str, to: str, n: int, size: int = 2000) -> bytes:
    body = (f"Rechnung {n}: " + "x" * 60 + "\r\n") * max(1, size // 75)
    return (
        f"From: Mein Shop <{sender}>\r\nTo: <{to}>\r\nSubject: Rechnung {n}\r\n"
        f"X-Relay-Kind: payment-info\r\nX-Relay-Order: O-{n}\r\n\r\n{body}"
    ).encode()


def submit_many(
    port: int,
    sender: str,
    to: list[str],
    per_session: int,
    sessions: int,
    cut_short: bool = False,
) -> list[Sent]:
    """Every message answered 250. `cut_short`: a session that the server ends (a shutdown)
    keeps what it had sent so far instead of failing the whole burst."""

    def session(index: int) -> list[Sent]:
        sent: list[Sent] = []
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                client.starttls(context=_context())
                client.login(SHOP, SHOP_PASSWORD)
                for k in range(per_session):
                    n = index * per_session + k
                    data = message_bytes(sender, to[n % len(to)], n)
                    client.mail(sender)
                    client.rcpt(to[n % len(to)])
                    code, reply = client.data(data)
                    if code != 250:
                        raise smtplib.SMTPDataError(code, reply)
                    qid = reply.decode().rsplit(" ", 1)[1]
                    sent.append(Sent(qid, hashlib.sha256(body_of(data)).hexdigest()))
        except (smtplib.SMTPException, OSError):
            if not cut_short:
                raise
        return sent

    with ThreadPoolExecutor(sessions) as pool:
        return [s for batch in pool.map(session, range(sessions)) for s in batch]
