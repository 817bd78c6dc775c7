"""Issue 9 items 8 and 6: malformed input gets a permanent 5xx 5.6.x that says what is wrong and
where (it used to be "451 4.3.0 Internal error", retried for ever); X-Relay-Order is checked at
DATA; no reply the relay builds from client input is longer than 512 octets.

Real parts: `relay serve` and a raw SMTP client (STARTTLS, AUTH) over loopback. The last test
feeds generated header sections straight to prepare() (the step every message goes through):
whatever the bytes, the answer is a message or a refusal, never an exception.
"""

from __future__ import annotations

import binascii
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.keys import new_dkim_key
from relay.prepare.identity import Fallback
from relay.prepare.pipeline import Rejection, Settings, prepare, sign_job
from relay.prepare.recipients import Lookups
from relay.store.shops import Shop
from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess
from tests.rig import names
from tests.smtp_raw import RawSMTP

FROM = "info@shop.example.com"
HEAD = f"From: Mein Shop <{FROM}>\r\nTo: <{names.CUSTOMER}>\r\n".encode()


@pytest.fixture(scope="module")
def relay(tmp_path_factory, nsd, postfix):  # type: ignore[no-untyped-def]
    """One relay for the whole module: each case is one SMTP transaction."""
    from tests.conftest import _relay

    made = _relay(tmp_path_factory.mktemp("malformed"), nsd, postfix, {"relay": {"workers": 1}})
    made.start()
    yield made
    made.stop()


@pytest.fixture
def session(relay: RelayProcess):  # type: ignore[no-untyped-def]
    smtp = RawSMTP(relay.submission_port)
    smtp.cmd("EHLO shop.example.com")
    smtp.starttls()
    smtp.cmd("EHLO shop.example.com")
    assert smtp.login(SHOP, SHOP_PASSWORD).startswith("235")
    yield smtp
    smtp.close()


def _send(smtp: RawSMTP, message: bytes) -> str:
    assert smtp.cmd(f"MAIL FROM:<{FROM}>").startswith("250")
    assert smtp.cmd(f"RCPT TO:<{names.CUSTOMER}>").startswith("250")
    assert smtp.cmd("DATA").startswith("354")
    lines = message.split(b"\r\n")
    wire = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    smtp.send(wire + (b"" if wire.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    return smtp.reply()


def _stored(relay: RelayProcess) -> int:
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    try:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        conn.close()


MALFORMED = [
    (
        "latin-1 byte in a header",
        HEAD + b"Subject: Gr\xfc\xdfe aus dem Shop\r\n\r\nHallo\r\n",
        "header subject (line 3) is not UTF-8: byte 0xFC at column 12",
    ),
    (
        "header line without a colon",
        HEAD + b"Subject: x\r\nThis line has no colon\r\n\r\nHallo\r\n",
        "header line 4 has no colon: 'This line has no colon'",
    ),
    (
        "body without the empty line before it",
        HEAD + b"Subject: x\r\nSehr geehrte Kundin,\r\nbitte zahlen Sie.\r\n",
        "header line 4 has no colon",
    ),
    ("empty field name", HEAD + b": value\r\n\r\nHallo\r\n", "header line 3 has an empty field"),
    (
        "8-bit in a field name",
        HEAD + b"S\xc3\xbcbject: x\r\n\r\nHallo\r\n",
        "header line 3: the field name 'S\\xfcbject' may only hold printable ASCII",
    ),
    (
        "space in a field name",
        HEAD + b"X Mailer: shop\r\n\r\nHallo\r\n",
        "header line 3: the field name 'X Mailer' may only",
    ),
    (
        "escape sequence in a header",
        HEAD + b"Subject: \x1b]0;owned\x07\r\n\r\nHallo\r\n",
        "header subject (line 3) holds the control character 0x1B at column 10",
    ),
    (
        "continuation line first",
        b"  folded\r\n" + HEAD + b"\r\nHallo\r\n",
        "line 1 starts with white space",
    ),
    (
        "header section over 256 KB",
        HEAD + b"X-Long: start\r\n" + (b" " + b"y" * 900 + b"\r\n") * 300 + b"\r\nHallo\r\n",
        "the header section is larger than 256 KB",
    ),
]


@pytest.mark.parametrize(("case", "message", "detail"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_headers_get_a_permanent_reply_that_says_where(
    relay: RelayProcess, session: RawSMTP, case: str, message: bytes, detail: str
) -> None:
    before = _stored(relay)
    reply = _send(session, message)
    assert reply.startswith("550 5.6.0 Malformed message: "), reply
    assert detail in reply, reply
    assert len(reply.encode()) + 2 <= 512
    assert session.cmd("NOOP").startswith("250")  # the session goes on
    assert _stored(relay) == before


@pytest.mark.parametrize(
    ("case", "message", "reply_start"),
    [
        (
            "NUL in the body",
            HEAD + b"Subject: x\r\n\r\nbin\0ary\r\n",
            "550 5.6.0 Message refused: a NUL byte in line 5",
        ),
        (
            "NUL in a header",
            HEAD + b"Subject: \0\r\n\r\nx\r\n",
            "550 5.6.0 Message refused: a NUL byte in line 3",
        ),
        (
            # RFC 5322 2.1.1; a header line cannot be re-encoded (a body line is: test_wire).
            "header line over 998 characters",
            HEAD + b"Subject: " + b"z" * 995 + b"\r\n\r\nx\r\n",
            "550 5.6.0 Malformed message: header line 3 has 1004 octets, over the 998",
        ),
        (
            "a folded header line over 998 characters",
            HEAD + b"Subject: x\r\n " + b"z" * 1000 + b"\r\n\r\nx\r\n",
            "550 5.6.0 Malformed message: header line 4 has 1001 octets",
        ),
    ],
)
def test_malformed_data_is_refused_at_the_end_of_data(
    relay: RelayProcess, session: RawSMTP, case: str, message: bytes, reply_start: str
) -> None:
    before = _stored(relay)
    reply = _send(session, message)
    assert reply.startswith(reply_start), reply
    assert session.cmd("NOOP").startswith("250")
    assert _stored(relay) == before


def test_a_message_of_headers_only_is_fine(session: RawSMTP) -> None:
    assert _send(session, HEAD + b"Subject: nur Kopf\r\n").startswith("250 2.0.0")


@pytest.mark.parametrize(
    ("order", "reply_part"),
    [
        ("A" * 101, "550 5.6.0 X-Relay-Order 'AAAA"),
        ("A-1\u009b31m", "550 5.6.0 X-Relay-Order 'A-1\\x9b31m' (7 characters) must be"),
        ("A-\u202e1001", "must be at most 100 printable characters"),
        ("A-1\x1b]0;x\x07", "550 5.6.0 Malformed message: header x-relay-order (line 3) holds"),
    ],
)
def test_x_relay_order_is_checked_at_data(
    relay: RelayProcess, session: RawSMTP, order: str, reply_part: str
) -> None:
    message = HEAD + f"X-Relay-Order: {order}\r\nSubject: x\r\n\r\nHallo\r\n".encode()
    reply = _send(session, message)
    assert reply_part in reply, reply
    ok = HEAD + ("X-Relay-Order: Bestellung 4711/ä-" + "9" * 60 + "\r\n\r\nx\r\n").encode()
    assert _send(session, ok).startswith("250")


def test_replies_quoting_huge_values_stay_within_512_octets(session: RawSMTP) -> None:
    """RFC 5321 4.5.3.1.5: a 20 KB X-Relay-Kind (folded, so every line is legal) and a 900
    character From address are quoted in the refusal, cut short."""
    kind = b"X-Relay-Kind: " + b"\r\n ".join([b"k" * 900] * 22) + b"\r\n"
    reply = _send(session, HEAD + kind + b"Subject: x\r\n\r\nHallo\r\n")
    assert reply.startswith("550 5.7.1 Unknown X-Relay-Kind 'kkkk"), reply
    assert "\n" not in reply and len(reply.encode()) + 2 <= 512, len(reply)
    sender = b"From: <" + b"x" * 900 + b"@elsewhere.example.org>\r\n"
    reply = _send(session, sender + b"Subject: x\r\n\r\nHallo\r\n")
    assert reply.startswith("550 5.7.1 From 'xxxx"), reply
    assert len(reply.encode()) + 2 <= 512, len(reply)


# -- prepare(), the step every submission passes, on generated header sections ----------------


SHOP_OBJ = Shop(
    name="s", domains=("shop.example.com",), sender=FROM, sender_name="Shop", language="de",
    password_hash="", dkim_selector="s1", dkim_private_key="",
)  # fmt: skip
KEY = new_dkim_key()
SETTINGS = Settings(
    hostname="relay.example.net",
    public_url="http://127.0.0.1:8025",
    bounce_domain="bounces.relay.example.net",
    secret=b"k" * 32,
    fallback=Fallback("shops@relay.example.net", "relay.example.net", "relay", KEY),
)
LOOKUPS = Lookups(block=lambda a: None, optout=lambda s, a, k: None, typo=lambda d: None)
NAMES = [b"Subject: ", b"X-Relay-Order: ", b"X-Relay-Kind: ", b"Sender: ", b"To: ", b" ", b""]
header_line = st.tuples(st.sampled_from(NAMES), st.binary(max_size=40)).map(
    lambda parts: (parts[0] + parts[1]).replace(b"\r", b"").replace(b"\n", b"")
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(header_line, max_size=8), body=st.binary(max_size=40))
def test_prepare_answers_every_header_section_with_a_message_or_a_refusal(
    lines: list[bytes], body: bytes
) -> None:
    """Generated header fields (Subject, X-Relay-*, Sender, folded lines, garbage), then what
    every accepted message goes through: stored text (no lone surrogates, the old
    UnicodeEncodeError) and a DKIM signature (the old dkim.MessageFormatError)."""
    data = HEAD + b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body
    try:
        prepared = prepare(data, [names.CUSTOMER], SHOP_OBJ, set(), LOOKUPS, SETTINGS)
    except Rejection as refusal:
        assert refusal.reply[:1] == "5" and refusal.reply[4:5] in "567", refusal.reply
        assert len(refusal.reply.encode()) <= 510
        return
    sent = bytes(prepared.body)[prepared.head_size + 2 :]
    submitted = data.split(b"\r\n\r\n", 1)[1]
    if submitted.isascii():
        assert sent == submitted  # a 7-bit body is left untouched
    else:  # made 7-bit (quoted-printable, a top-level text body) and the same bytes decoded
        assert sent.isascii() and binascii.a2b_qp(sent) == submitted
    prepared.subject.encode("utf-8")
    (prepared.order_ref or "").encode("utf-8")
    assert sign_job(prepared.sign_jobs[0], bytes(prepared.body)).startswith(b"DKIM-Signature:")


def test_aiosmtpds_own_replies_are_kept_within_512_octets_too(session: RawSMTP) -> None:
    """aiosmtpd quotes an unknown command in its 500; every reply goes through our push."""
    reply = session.cmd("X" * 500)
    assert reply.startswith("500") and len(reply.encode()) + 2 <= 512, len(reply)
    assert session.cmd("NOOP").startswith("250")
