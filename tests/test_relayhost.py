"""Issue 14 item 2: `[delivery] relayhost`, as Postfix's relayhost: all mail goes through one
server, with AUTH only over STARTTLS; a relayhost that refuses defers the mail with its words.

Real parts: `relay serve`, swaks, a Postfix with Cyrus SASL that takes mail only from
authenticated clients (tests/rig/sasl.py), a name server that never answers (so an MX lookup
would get nowhere). The refusals of the client are tested against a small fake SMTP server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from relay.delivery.client import ClientSettings, Envelope, deliver_batch, loaded
from relay.delivery.outcome import Attempt
from relay.delivery.relayhost import Relayhost, parse_host_port, read_login, relayhost_from
from relay.delivery.routing import MxHost
from relay.errors import SetupError
from relay.serve import delivery_route
from tests.harness import RelayProcess, queue_id, shop_mail
from tests.rig import names
from tests.rig.postfix import PostfixRig
from tests.rig.sasl import certificate, sasl_rig
from tests.rig.tools import require_root, wait_until

USER, PASSWORD = "relayuser", "gateway-secret-1"
OTHER = f"kunde@{names.FALLBACK_MX_DOMAIN}"  # another domain: it goes the same way


@pytest.fixture
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostfixRig]:
    require_root("the Postfix rig")
    rig = sasl_rig(tmp_path_factory.mktemp("gateway"), USER, PASSWORD)
    try:
        yield rig
    finally:
        rig.cleanup()


def _auth_file(directory: Path, password: str = PASSWORD) -> Path:
    path = directory / "relayhost.auth"
    path.write_text(f"{USER}:{password}\n")
    path.chmod(0o600)
    return path


def _relay(relay_factory, gateway: PostfixRig, silent_ns: str, password: str) -> RelayProcess:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory(
        {
            "relay": {"workers": 1},
            "delivery": {
                "relayhost": f"127.0.0.1:{gateway.port}",
                "relayhost_auth": "relayhost.auth",
                "nameservers": [silent_ns],  # an MX lookup would hang: none may be needed
                "retry_schedule": "1h",
            },
        }
    )
    _auth_file(relay.root, password)
    return relay.start()


def test_all_mail_goes_through_the_relayhost_with_auth_over_starttls(  # type: ignore[no-untyped-def]
    relay_factory, gateway: PostfixRig, silent_ns: str
) -> None:
    relay = _relay(relay_factory, gateway, silent_ns, PASSWORD)
    qid = queue_id(shop_mail(relay, f"{names.CUSTOMER},{OTHER}", "X-Relay-Order: G-1").stdout)
    relay.wait_state(names.CUSTOMER, {"delivered"})
    relay.wait_state(OTHER, {"delivered"})
    assert gateway.wait_for_messages(names.CUSTOMER) and gateway.wait_for_messages(OTHER)
    for rcpt in relay.json("message", "show", qid)["recipients"]:
        assert [(a["mx_host"], a["tls"]) for a in rcpt["attempts_log"]] == [("127.0.0.1", 1)]
    log = gateway.log_text()
    assert f"sasl_method=PLAIN, sasl_username={USER}@{names.MX_HOST}" in log
    assert "TLS connection established from" in log
    assert PASSWORD not in relay.log_text()
    assert "all mail through the relayhost" in relay.log_text()
    assert "(TLS encrypt, AUTH)" in relay.log_text()  # what is done: STARTTLS is required


def test_a_relayhost_that_refuses_the_login_defers_with_its_words(  # type: ignore[no-untyped-def]
    relay_factory, gateway: PostfixRig, silent_ns: str
) -> None:
    relay = _relay(relay_factory, gateway, silent_ns, "a-wrong-password")
    shop_mail(relay, names.CUSTOMER, "X-Relay-Order: G-2")
    row = relay.wait_state(names.CUSTOMER, {"deferred", "bounced", "failed"})[0]
    assert row["status"] == "deferred", row
    assert "535 5.7.8" in row["explanation"] and "authentication failed" in row["explanation"]
    assert gateway.maildir_messages(names.CUSTOMER) == []


def test_verify_checks_the_relayhost_certificate(gateway: PostfixRig, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """relayhost_tls = "verify": the certificate must match the name and a trusted CA."""
    relayhost = Relayhost(names.MX_HOST, gateway.port, "verify", (USER, PASSWORD))
    untrusted = asyncio.run(_deliver(relayhost, names.MX_HOST, "127.0.0.1"))
    assert untrusted.mx_host is None and untrusted.reply.code == 451
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.reply.text
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate(gateway)))  # trust the rig's own
    trusted = asyncio.run(_deliver(relayhost, names.MX_HOST, "127.0.0.1"))
    assert trusted.reply.code == 250 and trusted.tls
    wait_until(lambda: gateway.maildir_messages(names.CUSTOMER), 20, "the verified delivery")


async def _deliver(relayhost: Relayhost, name: str, address: str) -> Attempt:
    settings = ClientSettings(
        helo_name="relay.example.net",
        port=25,  # the relayhost's own port wins
        connect_timeout=10,
        command_timeout=10,
        data_timeout=30,
        require_tls=False,
        relayhost=relayhost,
    )
    attempts: list[Attempt] = []

    async def report(_envelope: Envelope, attempt: Attempt) -> None:
        attempts.append(attempt)

    envelope = Envelope(
        1, "b-1@bounces.relay.example.net", names.CUSTOMER, loaded(b"Subject: v\r\n\r\nHi\r\n")
    )
    await deliver_batch([MxHost(name, 0, (address,))], [envelope], settings, report)
    return attempts[0]


async def _plain_server_with_auth(heard: list[str]) -> asyncio.base_events.Server:
    """A server that offers AUTH but no STARTTLS, and writes down every command it hears."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 gateway.example.net ESMTP\r\n")
        while line := await reader.readline():
            heard.append(line.decode().strip())
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-gateway.example.net\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)


def test_credentials_are_never_sent_without_starttls() -> None:
    heard: list[str] = []

    async def main() -> Attempt:
        server = await _plain_server_with_auth(heard)
        port = server.sockets[0].getsockname()[1]
        try:
            return await _deliver(
                Relayhost("127.0.0.1", port, "encrypt", (USER, PASSWORD)), "127.0.0.1", "127.0.0.1"
            )
        finally:
            server.close()

    attempt = asyncio.run(main())
    assert (attempt.reply.code, attempt.reply.status) == (451, "4.7.5")
    assert "AUTH is never sent in clear" in attempt.reply.text
    assert not any(line.upper().startswith(("AUTH", "MAIL")) for line in heard), heard


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smtp.example.net:587", ("smtp.example.net", 587)),
        ("SMTP.Example.NET.", ("smtp.example.net", 25)),
        ("127.0.0.1:2526", ("127.0.0.1", 2526)),
        ("[::1]:2526", ("::1", 2526)),
    ],
)
def test_relayhost_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["host:0", "host:99999", "[not-v6]:25", "a b:25", "host:x"])
def test_a_bad_relayhost_names_the_setting(text: str) -> None:
    with pytest.raises(SetupError, match=r"delivery\.relayhost: .* is not host:port|IPv6"):
        parse_host_port(text)


def test_the_auth_file_must_be_private_and_hold_user_and_password(tmp_path: Path) -> None:
    path = _auth_file(tmp_path)
    assert read_login(path) == (USER, PASSWORD)
    path.chmod(0o644)
    with pytest.raises(SetupError, match=f"run `chmod 600 {path}`"):
        read_login(path)
    path.write_text("no-colon-here\n")
    path.chmod(0o600)
    with pytest.raises(SetupError, match="one line 'user:password'"):
        read_login(path)
    with pytest.raises(SetupError, match="cannot read"):
        read_login(tmp_path / "missing")


def test_auth_turns_may_into_encrypt_and_a_bad_mode_is_named(tmp_path: Path) -> None:
    _auth_file(tmp_path)
    relayhost = relayhost_from("127.0.0.1:25", "relayhost.auth", "may", tmp_path)
    assert relayhost is not None and relayhost.tls == "encrypt" and relayhost.tls_required
    assert PASSWORD not in repr(relayhost)
    with pytest.raises(SetupError, match=r"delivery\.relayhost_tls: 'tls' is not one of"):
        relayhost_from("127.0.0.1:25", "", "tls", tmp_path)
    with pytest.raises(SetupError, match=r"delivery\.relayhost is empty"):
        relayhost_from("", "relayhost.auth", "may", tmp_path)
    assert relayhost_from("", "", "may", tmp_path) is None


@pytest.mark.parametrize(
    ("tls", "auth", "said"),
    [
        ("may", "relayhost.auth", "(TLS encrypt, AUTH)"),
        ("verify", "relayhost.auth", "(TLS verify, AUTH)"),
        ("may", "", "(TLS may)"),
    ],
)
def test_the_start_up_line_says_the_tls_the_relay_requires(tls: str, auth: str, said: str) -> None:
    """With AUTH the relay requires STARTTLS whatever relayhost_tls says; the log said "may"."""
    delivery = SimpleNamespace(
        relayhost="127.0.0.1:2525", relayhost_auth=auth, relayhost_tls=tls, smtp_port=25
    )
    line = delivery_route(SimpleNamespace(delivery=delivery))  # type: ignore[arg-type]
    assert line == f"all mail through the relayhost 127.0.0.1:2525 {said}"
