"""What leaves the relay is valid on the wire (issue 13 items 1-4), on real parts: the relay
delivers to a private Postfix that announces 8BITMIME and SMTPUTF8, or discards them from its
EHLO (`smtpd_discard_ehlo_keywords`), and logs every command it is given (`debug_peer_list`),
so the tests read the MAIL FROM parameters the relay really sent. Mail::DKIM verifies what
Postfix stored; the `email` package decodes it back to what the shop submitted.

The relay makes every message 7-bit before signing (relay.prepare.wire): an 8-bit message
goes out 7-bit to every server, without BODY=8BITMIME. What stays 8-bit (a UTF-8 address, a
signed part that must not change) goes only where the server announces the extension.
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness import SHOP, SHOP_PASSWORD, SHOP_SENDER, RelayProcess
from tests.keys_in_dns import publish_keys, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig
from tests.submit_client import _context

TEXT = "Guten Tag Jörg,\r\nbitte überweisen Sie 1.234,56 € bis zum 15. Juli.\r\nGrüße\r\n"
HTML = "<p>Guten Tag Jörg,</p>\r\n<p>bitte überweisen Sie <b>1.234,56&nbsp;€</b>.</p>\r\n"
SUBJECT = "Zahlungserinnerung für Möbel Müller – Bestellung 10023"


def eight_bit_message(to: str = names.CUSTOMER) -> bytes:
    """What naive shop software sends: UTF-8 everywhere, raw (RFC 6532/6152 style)."""
    return (
        f"From: Möbel Müller <{SHOP_SENDER}>\r\nTo: {to}\r\nSubject: {SUBJECT}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        f"\r\n{TEXT}--b1\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{HTML}--b1--\r\n"
    ).encode()


def signed_message() -> bytes:
    """A multipart/signed message (RFC 1847) with 8-bit text inside: it must arrive
    unchanged, so it stays 8-bit."""
    return (
        f"From: {SHOP_SENDER}\r\nTo: {names.CUSTOMER}\r\nSubject: signiert\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/signed; boundary="s1"; micalg=pgp-sha256;'
        ' protocol="application/pgp-signature"\r\n\r\n'
        f"--s1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        f"\r\n{TEXT}--s1\r\nContent-Type: application/pgp-signature\r\n\r\n"
        "-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n--s1--\r\n"
    ).encode()


def submit_raw(relay: RelayProcess, message: bytes, to: str, *options: str) -> str:
    """STARTTLS, AUTH, the message as DATA; the queue id. With SMTPUTF8 the commands are
    UTF-8 (RFC 6531 3.4)."""
    with smtplib.SMTP("127.0.0.1", relay.submission_port, timeout=60) as client:
        client.starttls(context=_context())
        client.login(SHOP, SHOP_PASSWORD)
        if "SMTPUTF8" in options:
            client.command_encoding = "utf-8"
        code, text = client.mail(SHOP_SENDER, list(options))
        assert code == 250, text
        code, text = client.rcpt(to)
        assert code == 250, text
        code, text = client.data(message)
    assert code == 250, text
    return text.decode().rsplit(" ", 1)[1]


def mail_from_lines(rig: PostfixRig) -> list[str]:
    """The MAIL FROM commands Postfix's smtpd was given (debug_peer_list logs each one)."""
    return re.findall(r"< [^:]+: (MAIL FROM:.*)$", rig.log_text(), re.M)


def parsed(message: bytes) -> EmailMessage:
    result = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


MakeRelay = Callable[[PostfixRig, str], RelayProcess]


@pytest.fixture
def relay_for(tmp_path: Path, nsd: NsdServer) -> Iterator[MakeRelay]:
    """A relay (one worker, the fallback key published) delivering to the given Postfix."""
    made: list[RelayProcess] = []

    def make(rig: PostfixRig, name: str) -> RelayProcess:
        extra = {"inbound": {"port": rig.bounce_relay_port}, "relay": {"workers": 1}}
        relay = RelayProcess(tmp_path / name, nsd.nameserver, rig.port, extra=extra).init()
        relay.add_shop()
        relay.run("shop", "set", SHOP, "--sender-name", "Möbel Müller")  # From of the fallback
        publish_keys(nsd, relay)
        made.append(relay)
        return relay.start()

    yield make
    for relay in made:
        relay.stop()


LOG_COMMANDS = {"debug_peer_list": "127.0.0.1", "debug_peer_level": "1"}


def assert_same_content(received: bytes) -> None:
    """7-bit and short lines on the wire, the shop's text and HTML when decoded."""
    assert received.isascii(), "every octet 7-bit"
    sent = received[received.index(b"DKIM-Signature:") :]  # without what Postfix added
    assert max(map(len, sent.split(b"\r\n"))) <= 78
    message = parsed(received)
    assert str(message["Subject"]) == SUBJECT
    assert message["From"].addresses[0].display_name == "Möbel Müller"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    # What the email package reads from the message as the shop submitted it (RFC 2046: the
    # CRLF before a boundary belongs to the boundary).
    submitted = parsed(eight_bit_message())
    for kind, part in (("plain", text), ("html", html)):
        original = submitted.get_body(preferencelist=(kind,))
        assert original is not None and "ö" in original.get_content()
        assert lf(part.get_content()) == lf(original.get_content())


def lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_without_8bitmime_and_smtputf8_the_message_goes_7_bit_and_utf8_addresses_fail(
    make_postfix: Callable[..., PostfixRig], relay_for: MakeRelay
) -> None:
    rig = make_postfix(main_cf={"smtpd_discard_ehlo_keywords": "8bitmime, smtputf8"} | LOG_COMMANDS)
    relay = relay_for(rig, "plain")
    submit_raw(relay, eight_bit_message(), names.CUSTOMER, "BODY=8BITMIME")
    submit_raw(relay, eight_bit_message(names.UTF8_CUSTOMER), names.UTF8_CUSTOMER,
               "SMTPUTF8", "BODY=8BITMIME")  # fmt: skip
    signed = submit_raw(relay, signed_message(), names.CUSTOMER, "BODY=8BITMIME")

    relay.wait_state(names.CUSTOMER, {"delivered", "failed"}, count=2)
    received = rig.wait_for_messages(names.CUSTOMER)[0].replace(b"\n", b"\r\n")
    assert verify_dkim(received, relay.nameserver)[0].startswith("pass d=relay.example.net")
    assert_same_content(received)

    failed = relay.wait_state(names.UTF8_CUSTOMER, {"failed"})[0]
    assert failed["last_status"] == "5.6.7", failed
    assert "does not announce SMTPUTF8, which the address jörg@" in failed["detail"], failed
    unsigned = {r["message"]: r for r in relay.recipients(to=names.CUSTOMER)}[signed]
    assert unsigned["status"] == "failed" and unsigned["last_status"] == "5.6.3", unsigned
    assert "does not announce 8BITMIME" in unsigned["detail"], unsigned

    lines = mail_from_lines(rig)
    assert lines and not any("BODY=" in line or "SMTPUTF8" in line for line in lines), lines


def test_with_8bitmime_and_smtputf8_what_stays_8_bit_goes_with_the_parameters(
    make_postfix: Callable[..., PostfixRig], relay_for: MakeRelay
) -> None:
    rig = make_postfix(main_cf=LOG_COMMANDS)
    relay = relay_for(rig, "utf8")
    plain = submit_raw(relay, eight_bit_message(), names.CUSTOMER, "BODY=8BITMIME")
    relay.wait_state(names.CUSTOMER, {"delivered"})
    submit_raw(relay, eight_bit_message(names.UTF8_CUSTOMER), names.UTF8_CUSTOMER,
               "SMTPUTF8", "BODY=8BITMIME")  # fmt: skip
    relay.wait_state(names.UTF8_CUSTOMER, {"delivered"})
    signed = submit_raw(relay, signed_message(), names.CUSTOMER, "BODY=8BITMIME")
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=2)

    first, third = rig.wait_for_messages(names.CUSTOMER, 2)
    assert_same_content(first.replace(b"\n", b"\r\n"))  # 7-bit before signing, whatever the MX
    utf8 = rig.wait_for_messages(names.UTF8_CUSTOMER)[0].replace(b"\n", b"\r\n")
    assert verify_dkim(utf8, relay.nameserver)[0].startswith("pass d=relay.example.net")
    assert re.search(rb"^\s+by mx1\.example\.net \(Postfix\) with UTF8SMTPS", utf8, re.M)
    # The UTF-8 address stays in To (RFC 6532), everything else is encoded.
    assert "To: jörg@shop-customers.example.com".encode() in utf8
    assert "Grüße" in parsed(utf8).get_body(preferencelist=("plain",)).get_content()
    # The signed part arrives byte for byte as submitted (RFC 1847 2.1), 8-bit.
    third = third.replace(b"\n", b"\r\n")
    assert verify_dkim(third, relay.nameserver)[0].startswith("pass d=relay.example.net")
    assert signed_message().split(b"\r\n\r\n", 1)[1] in third

    # RFC 3207 4.2: after STARTTLS the relay greets again (EHLO) before MAIL; the extensions
    # above are from that second EHLO, the only one that counts.
    commands = re.findall(r"< [^:]+: (EHLO|STARTTLS|MAIL FROM)", rig.log_text())
    for index, command in enumerate(commands):
        if command == "MAIL FROM":
            assert commands[index - 3 : index] == ["EHLO", "STARTTLS", "EHLO"], commands
    lines = mail_from_lines(rig)
    assert len(lines) == 3, lines
    plain_line, utf8_line, signed_line = lines
    assert "BODY=" not in plain_line and "SMTPUTF8" not in plain_line, plain_line
    assert utf8_line.endswith("BODY=8BITMIME SMTPUTF8"), utf8_line
    assert signed_line.endswith("BODY=8BITMIME"), signed_line
    assert plain and signed


LONG_HTML = (
    '<table width="100%"><tr>'
    + "".join(f'<td style="color:#b4153c">Position {n}</td>' for n in range(150))
    + "</tr></table>"
)


def test_a_5000_octet_html_line_arrives_as_valid_quoted_printable_with_a_valid_signature(
    relay: RelayProcess, nsd: NsdServer, postfix: PostfixRig
) -> None:
    html = LONG_HTML[:5000]
    assert len(html) == 5000
    message = (
        f"From: {SHOP_SENDER}\r\nTo: {names.CUSTOMER}\r\nSubject: lange Zeile\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"{html}\r\n"
    ).encode()
    publish_keys(nsd, relay)
    qid = submit_raw(relay, message, names.CUSTOMER)
    relay.wait_state(names.CUSTOMER, {"delivered"})
    received = postfix.wait_for_messages(names.CUSTOMER)[0].replace(b"\n", b"\r\n")

    assert verify_dkim(received, nsd.nameserver)[0].startswith("pass d=relay.example.net")
    body = received.split(b"\r\n\r\n", 1)[1]
    assert max(map(len, body.split(b"\r\n"))) <= 76  # RFC 2045 6.7 (5)
    part = parsed(received)
    assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert lf(part.get_content()) == html + "\n"  # the shop's HTML, exactly
    assert b"=\r\n" in body, "soft line breaks"
    assert qid


def test_a_long_line_that_cannot_be_re_encoded_is_refused_and_nothing_is_queued(
    relay: RelayProcess,
) -> None:
    long_signed = signed_message().replace(b"AAAA", b"A" * 1200)
    with smtplib.SMTP("127.0.0.1", relay.submission_port, timeout=60) as client:
        client.starttls(context=_context())
        client.login(SHOP, SHOP_PASSWORD)
        client.mail(SHOP_SENDER)
        client.rcpt(names.CUSTOMER)
        code, text = client.data(long_signed)
    assert code == 550, text
    reply = text.decode()
    assert reply.startswith("5.6.3 Message refused: a multipart/signed part"), reply
    assert "over 998 octets" in reply
    assert relay.recipients() == []
