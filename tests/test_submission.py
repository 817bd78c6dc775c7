"""Issue 2 acceptance: shops submit over STARTTLS/implicit TLS with AUTH; bad input is refused.

Real parts: the `relay serve` program, swaks and a raw socket client, over loopback.
"""

from __future__ import annotations

import email
import time

import pytest

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess, queue_id, shop_mail
from tests.keys_in_dns import stored_message
from tests.rig import names
from tests.smtp_raw import RawSMTP

# The end-to-end flows run on both store backends (tests/conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgresql")

FROM = "info@shop.example.com"


def _submit(relay: RelayProcess, *headers: str, tls: str = "starttls") -> str:
    done = shop_mail(relay, names.CUSTOMER, *headers, tls=tls)
    assert "250 2.0.0 Ok: queued as" in done.stdout, done.stdout + done.stderr
    return queue_id(done.stdout)


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_shop_submits_and_history_lists_the_message(relay: RelayProcess, tls: str) -> None:
    qid = _submit(relay, "X-Relay-Kind: dunning", "X-Relay-Order: A-1001", tls=tls)
    rows = relay.recipients(order="A-1001")
    assert [(r["message"], r["kind"], r["recipient"]) for r in rows] == [
        (qid, "dunning", names.CUSTOMER)
    ]
    assert rows[0]["shop"] == SHOP


def test_auth_offered_only_after_starttls(relay: RelayProcess) -> None:
    smtp = RawSMTP(relay.submission_port)
    before = smtp.cmd("EHLO client.example.org")
    assert "AUTH" not in before and "STARTTLS" in before
    assert smtp.cmd("AUTH PLAIN AGluZm8AeA==").startswith("538 5.7.11")
    assert smtp.starttls().startswith("220")
    after = smtp.cmd("EHLO client.example.org")
    assert "AUTH LOGIN PLAIN" in after or "AUTH PLAIN LOGIN" in after
    smtp.close()


@pytest.mark.parametrize("tls", ["none", "starttls"])
def test_a_trusted_client_sends_without_auth_with_or_without_starttls(
    relay_factory, tls: str
) -> None:  # type: ignore[no-untyped-def]
    """`submission.trusted_clients`: a shop host on this machine skips AUTH; STARTTLS starts a
    new SMTP session (RFC 3207 4.2), and the trust must carry over into it."""
    relay = relay_factory({"submission": {"trusted_clients": [f"127.0.0.1={SHOP}"]}}).start()
    done = shop_mail(relay, names.CUSTOMER, "X-Relay-Order: T-1", tls=tls, auth=False)
    assert "queued as" in done.stdout, done.stdout
    assert [r["recipient"] for r in relay.recipients(order="T-1")] == [names.CUSTOMER]


def test_relaying_without_auth_is_refused(relay: RelayProcess) -> None:
    smtp = RawSMTP(relay.submission_port)
    smtp.cmd("EHLO client.example.org")
    assert smtp.cmd(f"MAIL FROM:<{FROM}>").startswith("530 5.7.0")
    smtp.starttls()
    smtp.cmd("EHLO client.example.org")
    assert smtp.cmd(f"MAIL FROM:<{FROM}>").startswith("530 5.7.0")
    smtp.close()


def test_wrong_password_is_refused_with_growing_delay(relay: RelayProcess) -> None:
    answered = []
    for _ in range(3):
        smtp = RawSMTP(relay.submission_port)
        smtp.cmd("EHLO client.example.org")
        smtp.starttls()
        assert smtp.login(SHOP, "wrong").startswith("535 5.7.8")
        answered.append(time.monotonic())
        smtp.close()
    # auth_failure_delay is 200ms in the test config: a check starts 0.2 s after the failed
    # check before it ended, then 0.4 s; the answers are at least that far apart.
    gaps = [answered[1] - answered[0], answered[2] - answered[1]]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps
    ok = RawSMTP(relay.submission_port)
    ok.cmd("EHLO client.example.org")
    ok.starttls()
    assert ok.login(SHOP, SHOP_PASSWORD).startswith("235")
    ok.close()


def _authenticated(relay: RelayProcess) -> RawSMTP:
    smtp = RawSMTP(relay.submission_port)
    smtp.cmd("EHLO client.example.org")
    smtp.starttls()
    assert smtp.login(SHOP, SHOP_PASSWORD).startswith("235")
    return smtp


def _stored_messages(relay: RelayProcess) -> int:
    return int(relay.query("SELECT count(*) AS n FROM messages")[0]["n"])


def _data(smtp: RawSMTP, payload: bytes, sender: str = FROM) -> str:
    assert smtp.cmd(f"MAIL FROM:<{sender}>").startswith("250")
    assert smtp.cmd(f"RCPT TO:<{names.CUSTOMER}>").startswith("250")
    assert smtp.cmd("DATA").startswith("354")
    smtp.send(payload)
    return smtp.reply()


def test_a_message_of_headers_only_gets_its_added_headers_in_the_header_block(
    relay: RelayProcess,
) -> None:
    """RFC 5322 3.5: the body is optional. Message-ID, Date and the fallback From must still
    land among the headers, not after an empty line."""
    smtp = _authenticated(relay)
    reply = _data(smtp, f"From: {FROM}\r\nSubject: only headers\r\n.\r\n".encode())
    smtp.close()
    assert reply.startswith("250"), reply
    sent = stored_message(relay, reply.rsplit(" ", 1)[1].strip(), names.CUSTOMER)
    head, _, body = sent.partition(b"\r\n\r\n")
    headers = email.message_from_bytes(head + b"\r\n\r\n")
    assert headers["Message-ID"] and headers["Date"] and headers["Subject"] == "only headers"
    assert headers["From"] == "Mein Shop <shops@relay.example.net>"
    assert headers["Reply-To"] == f"Mein Shop <{FROM}>"
    assert body == b""


def test_from_of_another_shop_is_refused(relay: RelayProcess) -> None:
    smtp = _authenticated(relay)
    message = (
        b"From: Other <info@other-shop.example.com>\r\nTo: <"
        + names.CUSTOMER.encode()
        + b">\r\nSubject: x\r\n\r\nhello\r\n.\r\n"
    )
    assert _data(smtp, message).startswith("550 5.7.1")
    smtp.close()
    assert _stored_messages(relay) == 0


@pytest.mark.parametrize("smuggle", [b"\n.\n", b"\r\n.\r", b"\n.\r\n"])
def test_bare_line_endings_are_refused_and_nothing_smuggled(
    relay: RelayProcess, smuggle: bytes
) -> None:
    smtp = _authenticated(relay)
    head = f"From: {FROM}\r\nTo: <{names.CUSTOMER}>\r\nSubject: smuggle\r\n\r\n".encode()
    hidden = (
        b"MAIL FROM:<info@shop.example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
        b"From: info@shop.example.com\r\n\r\nsmuggled\r\n"
    )
    reply = _data(smtp, head + b"first part" + smuggle + hidden + b"\r\n.\r\n")
    assert reply.startswith("550 5.6.0"), reply
    # The session goes on normally: the smuggled commands were data, never commands.
    assert smtp.cmd("NOOP").startswith("250")
    smtp.close()
    assert _stored_messages(relay) == 0


def test_oversized_message_is_refused(relay_small: RelayProcess) -> None:
    smtp = _authenticated(relay_small)
    big = b"x" * 998 + b"\r\n"
    payload = f"From: {FROM}\r\nSubject: big\r\n\r\n".encode() + big * 40 + b".\r\n"
    assert _data(smtp, payload).startswith("552 5.3.4")
    assert smtp.cmd("NOOP").startswith("250")
    smtp.close()
    assert _stored_messages(relay_small) == 0


def test_invalid_address_is_refused_and_blocked_address_is_suppressed(
    relay: RelayProcess,
) -> None:
    relay.run("blocks", "add", "blocked@shop-customers.example.com", "--note", "test")
    done = shop_mail(relay, "blocked@shop-customers.example.com,max@exa_mple.com")
    assert "queued as" in done.stdout, done.stdout
    # Issue 14: no address at all is refused at RCPT (553 5.1.3), not accepted and failed.
    assert "553 5.1.3 <max@exa_mple.com> is not a valid address" in done.stdout
    rows = {r["recipient"]: r for r in relay.recipients()}
    assert set(rows) == {"blocked@shop-customers.example.com"}
    blocked = rows["blocked@shop-customers.example.com"]
    assert (blocked["status"], blocked["reason"]) == ("suppressed", "blocked")


def test_session_cap_answers_421(relay_small: RelayProcess) -> None:
    """Two logged-in sessions fill max_sessions = 2; nobody unauthenticated can be closed to
    make room, so a third connection is refused at once."""
    held = [_authenticated(relay_small) for _ in range(2)]
    extra = RawSMTP(relay_small.submission_port)
    assert extra.greeting.startswith("421 4.3.2")
    for smtp in held:
        assert smtp.cmd("NOOP").startswith("250")  # the shops' sessions are untouched
        smtp.close()


def test_internal_error_answers_451_and_the_listener_lives_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A bug in the DATA handler must answer 451 4.3.0, never aiosmtpd's 500 with the text."""
    import asyncio
    import smtplib
    import threading

    from relay.smtp.admission import Admission, Limits
    from relay.smtp.data import DataPolicy
    from relay.smtp.protocol import HandlerBase, RelaySMTP

    class Broken(HandlerBase):
        async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
            raise RuntimeError("secret internal detail")

        async def handle_exception(self, error: Exception) -> str:
            from relay.smtp.submission import SubmissionHandler

            return await SubmissionHandler.handle_exception(self, error)  # type: ignore[arg-type]

    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            loop.create_server(
                lambda: RelaySMTP(
                    Broken(),
                    admission=Admission(Limits(5, 5, 5, None)),
                    data=DataPolicy(None, None, True, None),
                ),
                "127.0.0.1",
                0,
            )
        )
        box["port"] = server.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        for _ in range(2):  # the second session proves the listener survived
            with smtplib.SMTP("127.0.0.1", box["port"], timeout=10) as smtp:
                smtp.ehlo("client.example.org")
                smtp.mail("a@shop.example.com")
                smtp.rcpt("b@example.org")
                code, text = smtp.data(b"Subject: x\r\n\r\nbody\r\n")
                assert (code, text[:5]) == (451, b"4.3.0")
                assert b"secret" not in text
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
