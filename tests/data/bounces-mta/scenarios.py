"""What each MTA is made to report, and what a correct reader must say about each report.

Seven messages go in per MTA; eight reports come out: the message to the refusing host
yields a delay notice first and the final give-up at the end of the queue lifetime.
The expectations follow from what the lab does (see lab_smtp.STORE_REPLIES, lab_dns);
`status` is the code the report itself gives for the recipient, as the shared corpus
labels it: the remote server's own code where it is more specific than the Status field
(RFC 3463 X.0.0 says nothing), else the Status field, even X.0.0; where the report gives
no code at all, Sisimai's stand-in code for the reason (X.0.9xx). make.py's STATUS table
holds the codes that differ per MTA, read from each report by hand.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass

SENDER_DOMAIN = "bounces.relay.example.net"
SECRET = b"tests/data/bounces-mta: not a real secret"


@dataclass(frozen=True)
class Scenario:
    number: int
    name: str
    rcpt: str
    kind: str
    reason: str
    status: str  # default; make.py's per-MTA table may say otherwise (see module doc)
    why: str
    notify: str = ""  # RFC 3461 NOTIFY parameter of RCPT
    utf8: bool = False  # RFC 6531 SMTPUTF8 transaction
    big: bool = False
    report: str = "first"  # which report of this message the file keeps: first or last
    message_of: int = 0  # another scenario's number: this one reads that message's reports

    @property
    def message_number(self) -> int:
        return self.message_of or self.number


SCENARIOS = (
    Scenario(
        1,
        "userunknown",
        "nobody@example.org",
        "bounce",
        "userunknown",
        "5.1.1",
        "the mailbox server behind the MX refuses an unknown user (550 5.1.1 at RCPT)",
    ),
    Scenario(
        2,
        "mailboxfull",
        "full@example.org",
        "bounce",
        "mailboxfull",
        "5.2.2",
        "the mailbox server refuses a full mailbox (Dovecot's 552 5.2.2 quota words)",
    ),
    Scenario(
        3,
        "mesgtoobig",
        "big@example.org",
        "bounce",
        "mesgtoobig",
        "5.3.4",
        "the message is larger than the SIZE the mailbox server advertises",
        big=True,
    ),
    Scenario(
        4,
        "hostunknown",
        "anna@no-such-domain.example.com",
        "bounce",
        "hostunknown",
        "5.4.4",
        "the recipient's domain does not exist (NXDOMAIN)",
    ),
    Scenario(
        5,
        "delayed",
        "anna@example.net",
        "delay",
        "expired",
        "4.4.1",
        "delay notice: the recipient's MX refuses connections and the MTA keeps trying; with no "
        "other cause named it is 'expired', as rules.toml [status_in_reports] explains",
    ),
    Scenario(
        6,
        "expired",
        "anna@example.net",
        "bounce",
        "expired",
        "4.4.1",
        "the MTA gives up at the end of its queue lifetime (connection refused throughout)",
        report="last",
        message_of=5,
    ),
    Scenario(
        7,
        "relayed",
        "relayed@example.org",
        "delivered",
        "delivered",
        "2.0.0",
        "success notice (NOTIFY=SUCCESS): relayed to a server without the DSN extension",
        notify="SUCCESS",
    ),
    Scenario(
        8,
        "smtputf8",
        "jörg.müller@example.org",
        "bounce",
        "userunknown",
        "5.1.1",
        "internationalised recipient (SMTPUTF8, RFC 6533 utf-8 address type) is unknown",
        utf8=True,
    ),
)

# Reason groups of ../shared/bounces/reasons.py, for the reasons used above.
GROUPS = {
    "userunknown": "user_unknown",
    "mailboxfull": "mailbox_full",
    "mesgtoobig": "too_large",
    "hostunknown": "host_unknown",
    "expired": "expired",
    "networkerror": "network",
    "delivered": "delivered",
}


def messages() -> list[Scenario]:
    """One scenario per message sent (the delay and the give-up share one)."""
    return [s for s in SCENARIOS if not s.message_of]


def recipient_id(scenario: Scenario) -> int:
    """The relay's recipient row id the bounce token stands for (bounces/verp.py)."""
    return 7000 + scenario.message_number


def message(scenario: Scenario, mta: str) -> bytes:
    """The shop's message as the relay would send it (8-bit UTF-8 body)."""
    order = 1000 + scenario.number
    lines = [
        "From: Example Shop <orders@shop.example.com>",
        f"To: <{scenario.rcpt}>",
        f"Subject: Your order {order} has shipped",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: <order-{order}.{mta}@relay.example.net>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Hello,",
        "",
        f"your order {order} is on its way. Grüße aus dem Lager!",
    ]
    if scenario.big:
        lines += [f"Line {n:05d} of the enclosed catalogue, to make it large." for n in range(600)]
    return ("\r\n".join(lines) + "\r\n").encode()
