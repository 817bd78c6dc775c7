"""The wire form of a message, without servers (issue 13 items 1-4, 6): header fields encoded
(RFC 2047, RFC 2231, A-labels), body parts re-encoded (quoted-printable, base64) so that the
result is 7-bit with no line over 998 octets and decodes to what the shop wrote; refusals where
that is impossible; the 7-bit message left byte for byte; Date in +0000; Feedback-ID signed; the
MAIL FROM parameters and the relay's own permanent failures (relay.delivery.client). The
integration tests are tests/test_wire.py (Postfix, Mail::DKIM) and tests/test_return_path.py.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import re
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.delivery.client import Envelope, loaded, mail_parameters
from relay.delivery.decide import decide
from relay.keys import new_dkim_key
from relay.model import State
from relay.prepare import transfer, wire
from relay.prepare.header_encoding import Unencodable, encode_field
from relay.prepare.headers import RawMessage
from relay.prepare.identity import Fallback
from relay.prepare.pipeline import (
    Prepared,
    Rejection,
    Settings,
    feedback_sender_id,
    prepare,
    sign_job,
)
from relay.prepare.recipients import Lookups
from relay.prepare.wire import WireRefusal, make_wire_safe
from relay.smtp.data import Spool
from relay.store.shops import Shop

FROM = "info@shop.example.com"
SHOP = Shop(
    name="mein-shop", domains=("shop.example.com",), sender=FROM, sender_name="Mein Shop",
    language="de", password_hash="", dkim_selector="s1", dkim_private_key=new_dkim_key(),
)  # fmt: skip
SETTINGS = Settings(
    hostname="relay.example.net",
    public_url="https://relay.example.net",
    bounce_domain="bounces.relay.example.net",
    secret=b"k" * 32,
    fallback=Fallback("shops@relay.example.net", "relay.example.net", "relay", new_dkim_key()),
)
LOOKUPS = Lookups(block=lambda a: None, optout=lambda s, a, k: None, typo=lambda d: None)


def wire_form(data: bytes) -> bytes:
    message = RawMessage.parse(data)
    make_wire_safe(message)
    return bytes(message.to_bytes())


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def on_the_wire(data: bytes) -> bool:
    return data.isascii() and max(map(len, data.split(b"\r\n"))) <= 998


def leaves(message: Message) -> list[tuple[str, bytes]]:
    """(content type, decoded bytes) of every leaf part, in order."""
    return [
        (part.get_content_type(), part.get_payload(decode=True) or b"")
        for part in message.walk()
        if not part.is_multipart()
    ]


def field(name: str, value: str) -> tuple[bytes, bool]:
    return encode_field(name.lower(), f"{name}: {value}\r\n".encode())


# --- header fields ---------------------------------------------------------------------------


def test_unstructured_fields_become_encoded_words_that_decode_to_the_same_text() -> None:
    subject = "Zahlungserinnerung für Möbel Müller – Bestellung 10023 " * 4
    raw, utf8 = field("Subject", subject)
    assert raw.isascii() and not utf8
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert str(parsed(raw + b"\r\n")["Subject"]) == subject.strip()
    assert field("X-Shop-Note", "Grüße")[0] == b"X-Shop-Note: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"


def test_address_fields_encode_names_and_domains_and_keep_a_utf8_local_part() -> None:
    raw, utf8 = field("To", 'Jörg Müller <joerg@bücher.example.com>, "Möbel, Inc" <a@b.example>')
    assert raw.isascii() and not utf8
    to = parsed(raw + b"\r\n")["To"]
    assert [(a.display_name, a.addr_spec) for a in to.addresses] == [
        ("Jörg Müller", "joerg@xn--bcher-kva.example.com"),
        ("Möbel, Inc", "a@b.example"),
    ]
    raw, utf8 = field("Cc", "Kunden: Jörg <jörg@example.org>, max@example.org;")
    assert utf8 and "jörg@example.org".encode() in raw  # RFC 6532: needs SMTPUTF8
    assert raw.startswith(b"Cc: Kunden: =?utf-8?") and raw.endswith(b"max@example.org;\r\n")


def test_parameters_become_rfc_2231_values() -> None:
    raw, _ = field("Content-Disposition", 'attachment; filename="Rechnung Müller.pdf"')
    assert raw == (
        b"Content-Disposition: attachment;\r\n filename*=utf-8''Rechnung%20M%C3%BCller.pdf\r\n"
    )
    header = parsed(raw + b"\r\n")["Content-Disposition"]
    assert header.params["filename"] == "Rechnung Müller.pdf"


@pytest.mark.parametrize("name", ["Message-ID", "References", "Date", "List-Unsubscribe"])
def test_structured_fields_that_cannot_hold_encoded_words_are_refused(name: str) -> None:
    with pytest.raises(Unencodable, match=f"the {name} field holds non-ASCII text"):
        field(name, "<bestellung-ä@shop.example.com>")
    reply = _refusal(f"From: {FROM}\r\n{name}: <ä@shop.example.com>\r\n\r\nx\r\n".encode())
    assert reply.startswith(f"550 5.6.3 Message refused: the {name} field holds non-ASCII")


def test_an_unreadable_address_field_in_utf8_is_refused() -> None:
    with pytest.raises(Unencodable, match="not a readable address list"):
        field("To", "Jörg <<broken")


# --- body parts --------------------------------------------------------------------------------


NESTED = (
    "From: Möbel Müller <info@shop.example.com>\r\nTo: max@example.org\r\n"
    "Subject: Ihre Rechnung\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
    "Präambel, die niemand liest\r\n"
    "--outer\r\n"
    'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
    "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, Jörg\r\n"
    "--inner-not-a-boundary\r\n"
    "--inner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    "\r\n<p>" + "Grüße " * 400 + "</p>\r\n--inner--\r\n"
    "--outer\r\nContent-Type: text/plain\r\n\r\nnur ASCII, bleibt wie es ist\r\n"
    "--outer\r\nContent-Type: application/pdf\r\n"
    'Content-Disposition: attachment; filename="Rechnung Müller.pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(bytes(range(256)) * 20).decode()  # one line of 6,828 characters
    + "\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\n"
    "Subject: weitergeleitet: Grüße\r\nFrom: a@example.org\r\n\r\nHallo Jörg\r\n"
    "--outer--\r\nEpilog: Grüße\r\n"
).encode()


def test_a_nested_message_goes_7_bit_and_decodes_to_the_same_content() -> None:
    sent = wire_form(NESTED)
    assert on_the_wire(sent)
    before, after = leaves(parsed(NESTED)), leaves(parsed(sent))
    assert [kind for kind, _ in after] == [kind for kind, _ in before]
    for (kind, old), (_, new) in zip(before, after, strict=True):
        if kind == "message/rfc822":
            continue
        assert new.replace(b"\r\n", b"\n") == old.replace(b"\r\n", b"\n"), kind
    attached = parsed(sent).get_payload()[-1].get_payload()[0]
    assert str(attached["Subject"]) == "weitergeleitet: Grüße"
    assert attached.get_content().strip() == "Hallo Jörg"
    # What needed nothing keeps its bytes; the line that looked like a boundary is content.
    assert (
        b"\r\n--outer\r\nContent-Type: text/plain\r\n\r\nnur ASCII, bleibt wie es ist\r\n" in sent
    )
    assert b"--inner-not-a-boundary" in sent
    # A text part without a charset that turned out to be UTF-8 says so now (RFC 2045 5.2).
    plain = parsed(sent).get_body(preferencelist=("plain",))
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().startswith("Grüße, Jörg\r\n--inner-not-a-boundary")


def test_a_message_without_mime_headers_becomes_text_plain_utf8_quoted_printable() -> None:
    sent = wire_form(f"From: {FROM}\r\nSubject: Grüße\r\n\r\nHallo Jörg,\r\nbis bald\r\n".encode())
    assert on_the_wire(sent)
    message = parsed(sent)
    assert message["MIME-Version"] == "1.0"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == "Hallo Jörg,\r\nbis bald\r\n"


def test_quoted_printable_keeps_every_byte_even_bare_line_ends_and_trailing_space() -> None:
    for data in (b"a\rb\r\nc\nd", b"x" * 3000, b"trailing \t\r\n", "ä".encode() * 900):
        encoded = transfer.quoted_printable(data)
        assert on_the_wire(encoded) and max(map(len, encoded.split(b"\r\n"))) <= 76
        assert b"\r" not in encoded.replace(b"\r\n", b"") and b"\n" not in encoded.replace(
            b"\r\n", b""
        )
        assert binascii.a2b_qp(encoded) == data


@pytest.mark.parametrize(
    ("content_type", "why"),
    [
        ('multipart/signed; boundary="s"; protocol="application/pgp-signature"', "multipart/sig"),
        ('multipart/encrypted; boundary="s"', "multipart/encrypted part"),
    ],
)
def test_signed_and_encrypted_parts_are_never_changed(content_type: str, why: str) -> None:
    """RFC 1847 2.1: 8-bit inside stays (8BITMIME carries it); a long line is refused."""
    body = "--s\r\nContent-Type: text/plain\r\n\r\nGrüße\r\n--s\r\n\r\nSIG\r\n--s--\r\n"
    data = f"From: {FROM}\r\nContent-Type: {content_type}\r\n\r\n{body}".encode()
    sent = wire_form(data)
    assert sent.split(b"\r\n\r\n", 1)[1] == body.encode()  # byte for byte, 8-bit
    long = data.replace(b"SIG", b"S" * 1000)
    assert why in _refusal(long) and "over 998 octets" in _refusal(long)


def test_an_unknown_transfer_encoding_is_left_alone_or_refused_with_a_long_line() -> None:
    data = f"From: {FROM}\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nGrüße\r\n".encode()
    assert wire_form(data) == data
    assert "transfer encoding 'x-uuencode'" in _refusal(data + b"z" * 1000 + b"\r\n")


def test_a_7_bit_message_is_left_byte_for_byte_without_any_mime_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path: the source's two flags, one isascii() of the fields; never the MIME
    walker (which must not run: it raises here)."""

    def walker(*args: object) -> None:
        raise AssertionError("the MIME walker ran for a 7-bit message")

    monkeypatch.setattr(wire, "convert", walker)
    data = (
        f"From: Mein Shop <{FROM}>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
        "\r\n\r\nGr=C3=BC=C3=9Fe\r\n--b\r\nContent-Type: text/html\r\n\r\n"
        + "<p>"
        + "x" * 990
        + "</p>\r\n--b--\r\n"
    ).encode()
    assert wire_form(data) == data
    with pytest.raises(AssertionError, match="the MIME walker ran"):  # and it is the seam
        wire_form(data.replace(b"x" * 990, b"x" * 1000))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["text/plain; charset=utf-8", "text/html", "application/octet-stream"]),
            st.sampled_from(["", "8bit", "binary", "7bit", "quoted-printable", "base64"]),
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300),
            st.integers(0, 1500),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_multipart_goes_on_the_wire_or_is_refused_and_keeps_its_content(
    parts: list[tuple[str, str, str, int]],
) -> None:
    body = b""
    for content_type, encoding, text, run in parts:
        content = text.replace("\r", "").replace("\n", "\r\n").encode() + b"x" * run
        if encoding == "base64":
            content = base64.b64encode(content)  # one line, however long
        head = f"Content-Type: {content_type}\r\n"
        head += f"Content-Transfer-Encoding: {encoding}\r\n" if encoding else ""
        body += b"--B\r\n" + head.encode() + b"\r\n" + content + b"\r\n"
    data = f"From: {FROM}\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n".encode()
    data += body + b"--B--\r\n"
    try:
        sent = wire_form(data)
    except WireRefusal as refusal:  # only a part that may not change: none here
        raise AssertionError(refusal.reply) from None
    assert on_the_wire(sent)
    for (_, old), (_, new) in zip(leaves(parsed(data)), leaves(parsed(sent)), strict=True):
        assert new == old


def test_a_spooled_8_bit_message_is_read_back_from_disk_and_re_encoded(tmp_path: Path) -> None:
    """Over the spool threshold the message is a file (relay.smtp.data): the wire form reads
    the body from there, and the DATA reader's marks are what send it down the slow path."""
    body = ("Grüße aus Köln\r\n" * 200).encode() + b"<p>" + b"x" * 2000 + b"</p>\r\n"
    data = f"From: {FROM}\r\nSubject: x\r\n\r\n".encode() + body
    spool = Spool(tmp_path, 1024)
    for start in range(0, len(data), 1000):
        spool.write(data[start : start + 1000])
    spool.long_lines = True  # as the reader marks it
    assert spool.on_disk and spool.eight_bit
    prepared = prepare(spool, ["max@example.org"], SHOP, set(), LOOKUPS, SETTINGS)
    spool.close()
    sent = bytes(prepared.body)
    assert on_the_wire(sent)
    assert parsed(sent).get_content().encode() == body


# --- the pipeline: Date, Feedback-ID, refusals ------------------------------------------------


def _prepare(data: bytes) -> Prepared:
    return prepare(data, ["max@example.org"], SHOP, set(), LOOKUPS, SETTINGS)


def _refusal(data: bytes) -> str:
    with pytest.raises(Rejection) as refused:
        _prepare(data)
    return refused.value.reply


def test_the_date_the_relay_writes_is_in_plus_0000_not_gmt() -> None:
    prepared = _prepare(f"From: {FROM}\r\nSubject: x\r\n\r\nx\r\n".encode())
    date = re.search(rb"^Date: (.*)\r$", bytes(prepared.body), re.M)
    assert date and date.group(1).endswith(b" +0000"), date
    assert email.utils.parsedate_to_datetime(date.group(1).decode()).utcoffset().seconds == 0


def test_feedback_id_names_kind_shop_and_relay_is_the_only_one_and_is_oversigned() -> None:
    data = (
        f"From: {FROM}\r\nSubject: x\r\nX-Relay-Kind: dunning\r\n"
        "Feedback-ID: forged:other-shop:relay:x\r\n\r\nx\r\n"
    ).encode()
    prepared = _prepare(data)
    body = bytes(prepared.body)
    assert re.findall(rb"^Feedback-ID: (.*)\r$", body, re.M) == [
        b"dunning:mein-shop:relay:relayexamplenet"
    ]
    signature = sign_job(prepared.sign_jobs[0], body).decode()
    names = re.search(r"h=([^;]*);", signature.replace("\r\n ", " ")).group(1).split(" : ")
    assert names.count("feedback-id") == 2  # RFC 6376 5.4: no second one can be added


def test_the_feedback_sender_id_has_the_length_gmail_wants() -> None:
    assert feedback_sender_id("relay.example.net") == "relayexamplenet"
    assert feedback_sender_id("m.de") == "mde00"
    assert 5 <= len(feedback_sender_id("mail.ein-sehr-langer-hostingname.example")) <= 15


def test_a_utf8_recipient_is_queued_with_its_a_label_domain() -> None:
    prepared = prepare(
        f"From: {FROM}\r\nSubject: x\r\n\r\nx\r\n".encode(),
        ["Jörg@Bücher.example.com"],
        SHOP,
        set(),
        LOOKUPS,
        SETTINGS,
    )
    plan = prepared.recipients[0]
    assert (plan.state, plan.address) == ("queued", "Jörg@xn--bcher-kva.example.com")


# --- delivery: MAIL FROM parameters ------------------------------------------------------------


def envelope(rcpt: str = "max@example.org") -> Envelope:
    return Envelope(1, "b-x@bounces.relay.example.net", rcpt, loaded(b""))


ASCII = b"DKIM-Signature: x\r\nSubject: x\r\n\r\nbody\r\n"
EIGHT_BIT_BODY = "Subject: x\r\n\r\nGrüße\r\n".encode()
UTF8_HEADER = "To: jörg@example.org\r\n\r\nx\r\n".encode()


@pytest.mark.parametrize(
    ("data", "rcpt", "extensions", "expected"),
    [
        (ASCII, "max@example.org", set(), b""),
        (EIGHT_BIT_BODY, "max@example.org", {"8bitmime"}, b" BODY=8BITMIME"),
        (UTF8_HEADER, "max@example.org", {"8bitmime", "smtputf8"}, b" BODY=8BITMIME SMTPUTF8"),
        (ASCII, "jörg@example.org", {"smtputf8"}, b" SMTPUTF8"),
        (ASCII, "jörg@example.org", {"8bitmime"}, ("5.6.7", "which the address jörg@")),
        (UTF8_HEADER, "max@example.org", {"8bitmime"}, ("5.6.7", "a UTF-8 address in the")),
        (EIGHT_BIT_BODY, "max@example.org", {"smtputf8"}, ("5.6.3", "announce 8BITMIME")),
    ],
)
def test_mail_from_carries_what_the_bytes_need_where_the_server_announces_it(
    data: bytes, rcpt: str, extensions: set[str], expected: bytes | tuple[str, str]
) -> None:
    found = mail_parameters(data, envelope(rcpt), extensions.__contains__, "mx1.example.net")
    if isinstance(expected, bytes):
        assert found == expected
        return
    assert not isinstance(found, bytes)
    assert (found.code, found.status, found.synthetic) == (550, expected[0], True)
    assert expected[1] in str(found) and "mx1.example.net" in str(found)
    # Never sent, and it never will be to that server: failed at once, not retried.
    decision = decide(found, 1, 0.0, 1.0, (60.0,), 3600.0)
    assert decision.state == State.FAILED and decision.next_attempt_at is None
