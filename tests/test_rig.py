"""The real-parts rig works: NSD answers, Postfix delivers, defers, rejects and bounces."""

from __future__ import annotations

import email
import email.message
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.rcode
import dns.resolver
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from tests.rig import names
from tests.rig.fixtures import *  # noqa: F403 - the fixtures under test
from tests.rig.fixtures import MakeNsd, MakePostfix
from tests.rig.nsd import NsdServer, base_zones
from tests.rig.postfix import PostfixRig
from tests.rig.smtp_sink import SmtpSink
from tests.rig.tools import free_port, require, wait_until, which

pytestmark = pytest.mark.rig


def resolver(nameserver: str, timeout: float = 2.0) -> dns.resolver.Resolver:
    host, port = nameserver.rsplit(":", 1)
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = int(port)
    r.lifetime = timeout
    return r


def swaks(port: int, to: str, *extra: str) -> subprocess.CompletedProcess[str]:
    require("swaks")
    command = ["swaks", "--server", f"127.0.0.1:{port}", "--to", to]
    command += ["--from", f"b-test@{names.BOUNCE_DOMAIN}", "--helo", "relay.example.net", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


# -- tools ----------------------------------------------------------------------


def test_require_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"no-such-binary not installed: run \.ci/deps"):
        require("no-such-binary")


def test_require_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must not skip"):
        require("no-such-binary")


def test_require_finds_sbin_tools() -> None:
    require("postfix", "nsd")  # in /usr/sbin, which a normal user's PATH may lack
    assert which("postconf") == "/usr/sbin/postconf"


# -- DNS --------------------------------------------------------------------------


def test_nsd_answers_base_zones(nsd_server: NsdServer) -> None:
    r = resolver(nsd_server.nameserver)
    mx = r.resolve(names.CUSTOMER_DOMAIN, "MX")
    assert [(x.preference, str(x.exchange)) for x in mx] == [(10, "mx1.example.net.")]
    assert [a.address for a in r.resolve(names.MX_HOST, "A")] == ["127.0.0.1"]
    assert [a.address for a in r.resolve(names.DEAD_MX_HOST, "A")] == ["127.0.0.2"]
    fallback = sorted(
        (x.preference, str(x.exchange)) for x in r.resolve(names.FALLBACK_MX_DOMAIN, "MX")
    )
    assert fallback == [(10, "mx-dead.example.net."), (20, "mx1.example.net.")]
    spf = [b"".join(t.strings) for t in r.resolve(names.SHOP_DOMAIN, "TXT")]
    assert spf == [b"v=spf1 include:_spf.relay.example.net -all"]
    bounce_mx = r.resolve(names.BOUNCE_DOMAIN, "MX")
    assert [str(x.exchange) for x in bounce_mx] == ["relay.example.net."]


def test_nsd_null_mx_nxdomain_and_implicit_mx(nsd_server: NsdServer) -> None:
    r = resolver(nsd_server.nameserver)
    null = list(r.resolve(names.NULL_MX_DOMAIN, "MX"))
    assert [(x.preference, str(x.exchange)) for x in null] == [(0, ".")]
    with pytest.raises(dns.resolver.NXDOMAIN):
        r.resolve(names.NXDOMAIN_DOMAIN, "MX")
    with pytest.raises(dns.resolver.NoAnswer):
        r.resolve(names.IMPLICIT_MX_DOMAIN, "MX")
    assert [a.address for a in r.resolve(names.IMPLICIT_MX_DOMAIN, "A")] == ["127.0.0.1"]


def test_nsd_refuses_names_outside_its_zones(nsd_server: NsdServer) -> None:
    assert nsd_server.query("www.example.edu", "A").rcode() == dns.rcode.REFUSED


def test_set_zone_serves_new_records(make_nsd: MakeNsd) -> None:
    server = make_nsd()
    r = resolver(server.nameserver)
    text = base_zones()["example.com"] + 'sel1._domainkey.shop IN TXT "v=DKIM1; k=rsa; p=AAAA"\n'
    server.set_zone("example.com", text)  # same serial: the rig raises it
    txt = r.resolve("sel1._domainkey.shop.example.com", "TXT")
    assert [b"".join(t.strings) for t in txt] == [b"v=DKIM1; k=rsa; p=AAAA"]
    # ... and a zone it did not serve before
    server.set_zone(
        "example.edu",
        "$ORIGIN example.edu.\n$TTL 60\n"
        "@ IN SOA ns1.example.net. hostmaster.example.edu. 1 3600 600 86400 60\n"
        "@ IN NS ns1.example.net.\n@ IN MX 10 mx1.example.net.\n",
    )
    assert [str(x.exchange) for x in r.resolve("example.edu", "MX")] == ["mx1.example.net."]


def test_silent_nameserver_times_out(silent_ns: str) -> None:
    r = resolver(silent_ns, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(dns.exception.Timeout):
        r.resolve(names.CUSTOMER_DOMAIN, "MX", tcp=False)
    with pytest.raises(dns.exception.Timeout):
        r.resolve(names.CUSTOMER_DOMAIN, "MX", tcp=True)
    assert time.monotonic() - started < 3


# -- Postfix: at SMTP time ----------------------------------------------------------


def test_swaks_delivers_into_maildir(clean_postfix: PostfixRig) -> None:
    to = f"order-1001@{names.CUSTOMER_DOMAIN}"
    result = swaks(clean_postfix.port, to, "--header", "Subject: rig check")
    assert result.returncode == 0, result.stdout + result.stderr
    [raw] = clean_postfix.wait_for_messages(to)
    message = email.message_from_bytes(raw)
    assert message["Subject"] == "rig check"
    assert message["Delivered-To"] == to
    assert clean_postfix.maildir_messages(names.CUSTOMER) == []  # same maildir, other user


def test_swaks_starttls(clean_postfix: PostfixRig) -> None:
    result = swaks(clean_postfix.port, names.CUSTOMER, "--tls")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TLS started" in result.stdout


def test_unknown_user_is_rejected_at_rcpt(clean_postfix: PostfixRig) -> None:
    result = swaks(clean_postfix.port, names.UNKNOWN_USER)
    assert result.returncode != 0
    assert "550 5.1.1" in result.stdout
    assert clean_postfix.rcpt_reply(f"nosuch-user@{names.FALLBACK_MX_DOMAIN}")[0] == 550


def test_relaying_is_refused(clean_postfix: PostfixRig) -> None:
    code, text = clean_postfix.rcpt_reply("someone@example.org")
    assert code == 554
    assert "Relay access denied" in text


def test_defer_switches_on_and_off(clean_postfix: PostfixRig) -> None:
    code, text = clean_postfix.rcpt_reply(names.BUSY)
    assert (code, text.split()[0]) == (450, "4.2.0")
    clean_postfix.set_defer(names.BUSY, False)
    assert clean_postfix.rcpt_reply(names.BUSY)[0] == 250
    result = swaks(clean_postfix.port, names.BUSY)
    assert result.returncode == 0, result.stdout
    clean_postfix.set_defer(names.CUSTOMER, True, "451 4.3.0 Try again later")
    code, text = clean_postfix.rcpt_reply(names.CUSTOMER)
    assert (code, text.split()[0]) == (451, "4.3.0")


def test_reset_restores_the_defaults(clean_postfix: PostfixRig) -> None:
    clean_postfix.set_defer(names.BUSY, False)
    clean_postfix.set_defer(names.CUSTOMER, True)
    clean_postfix.reset()
    assert clean_postfix.rcpt_reply(names.BUSY)[0] == 450
    assert clean_postfix.rcpt_reply(names.CUSTOMER)[0] == 250


# -- Postfix: bounces after acceptance ------------------------------------------------


class Inbound:
    """A throwaway 'relay inbound': an aiosmtpd server that keeps what it gets."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        with self._arrived:
            self.envelopes.append(envelope)
            self._arrived.notify_all()
        return "250 2.0.0 stored"

    def wait(self, count: int, timeout: float = 20.0) -> list[Envelope]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.envelopes) >= count, timeout)
        assert len(self.envelopes) >= count, f"no DSN within {timeout}s"
        return self.envelopes


@pytest.fixture
def inbound(clean_postfix: PostfixRig) -> Iterator[Inbound]:
    handler = Inbound()
    controller = Controller(handler, hostname="127.0.0.1", port=clean_postfix.bounce_relay_port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def send(rig: PostfixRig, to: str, body_size: int = 3000) -> str:
    sender = f"b-token42@{names.BOUNCE_DOMAIN}"
    message = (
        f"From: Shop <orders@{names.SHOP_DOMAIN}>\r\nTo: {to}\r\n"
        f"Subject: Your order\r\nMessage-ID: <order-42@{names.SHOP_DOMAIN}>\r\n\r\n"
        + ("x" * 70 + "\r\n")
        * (body_size // 72)
    )
    with smtplib.SMTP("127.0.0.1", rig.port, timeout=10) as smtp:
        refused = smtp.sendmail(sender, [to], message)
    assert refused == {}
    return sender


def dsn_fields(envelope: Envelope) -> dict[str, str]:
    """The per-recipient fields of a multipart/report DSN."""
    assert isinstance(envelope.content, bytes)
    report = email.message_from_bytes(envelope.content)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    status = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    payload = status.get_payload()
    assert isinstance(payload, list)
    fields: dict[str, str] = {}
    for block in payload:
        assert isinstance(block, email.message.Message)
        fields |= {k: " ".join(str(v).split()) for k, v in block.items()}
    return fields


@pytest.mark.parametrize(
    ("recipient", "status", "diagnostic"),
    [
        (names.MAILBOX_FULL, "5.2.2", "X-Postfix; Mailbox full"),
        (names.TOO_BIG, "5.3.4", "X-Postfix; message size"),
        (names.LATER_UNKNOWN, "5.1.1", "smtp; 550 5.1.1 <gone@accept-all.example.com>"),
    ],
)
def test_accepted_then_bounced_with_a_dsn(
    clean_postfix: PostfixRig, inbound: Inbound, recipient: str, status: str, diagnostic: str
) -> None:
    sender = send(clean_postfix, recipient)
    [envelope] = inbound.wait(1)
    assert envelope.mail_from == "<>"  # a DSN has the null sender (aiosmtpd keeps "<>")
    assert envelope.rcpt_tos == [sender]
    fields = dsn_fields(envelope)
    assert fields["Status"] == status
    assert fields["Action"] == "failed"
    assert fields["Final-Recipient"] == f"rfc822; {recipient}"
    assert fields["Diagnostic-Code"].startswith(diagnostic)
    assert fields["Reporting-MTA"] == "dns; mx1.example.net"
    clean_postfix.wait_queue_empty()


def test_dsn_waits_in_the_queue_until_the_relay_listens(clean_postfix: PostfixRig) -> None:
    send(clean_postfix, names.MAILBOX_FULL)
    # The DSN (null sender, which postqueue shows as MAILER-DAEMON) waits: nothing listens on
    # the relay port yet.
    wait_until(
        lambda: [m["sender"] for m in clean_postfix.mailq()] == ["MAILER-DAEMON"],
        20,
        "the DSN to be queued",
    )
    handler = Inbound()
    controller = Controller(handler, hostname="127.0.0.1", port=clean_postfix.bounce_relay_port)
    controller.start()
    try:
        clean_postfix.flush()
        handler.wait(1)
    finally:
        controller.stop()
    clean_postfix.wait_queue_empty()


# -- lifecycle -------------------------------------------------------------------------


def test_rig_starts_fast_and_stops_cleanly(make_postfix: MakePostfix, make_nsd: MakeNsd) -> None:
    started = time.monotonic()
    dns_server = make_nsd()
    rig = make_postfix()
    assert time.monotonic() - started < 15  # generous: a loaded CI machine is no failure
    pid = rig._proc.pid if rig._proc else 0
    rig.stop()
    dns_server.stop()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    for port in (rig.port, dns_server.port):
        with pytest.raises(OSError):
            smtplib.SMTP("127.0.0.1", port, timeout=1)


def test_private_postfix_moves_its_bounce_port(make_postfix: MakePostfix) -> None:
    rig = make_postfix(bounce_relay_port=free_port(), tls=False)
    handler = Inbound()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        rig.set_bounce_relay_port(controller.port)
        assert rig.bounce_relay_port == controller.port
        send(rig, names.MAILBOX_FULL)
        [envelope] = handler.wait(1)
    finally:
        controller.stop()
    assert dsn_fields(envelope)["Status"] == "5.2.2"


def test_dead_mx_address_refuses(postfix_rig: PostfixRig) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", postfix_rig.port), timeout=2)


def test_smtp_sink_counts_messages(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_sink.port, timeout=10) as smtp:
        for n in range(3):
            smtp.sendmail("a@example.org", [names.CUSTOMER], f"Subject: {n}\r\n\r\nhi\r\n")
    assert smtp_sink.wait_for_count(3, timeout=10) == 3


def test_postgres_rig_gives_each_test_its_own_database(postgres_server) -> None:  # type: ignore[no-untyped-def]
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    name = first.rsplit("/", 1)[1]
    postgres_server.psql(name, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
    assert postgres_server.psql(name, "SELECT x FROM t").strip() == "42"
    other = second.rsplit("/", 1)[1]
    assert "t" not in postgres_server.psql(other, "SELECT tablename FROM pg_tables").split()
