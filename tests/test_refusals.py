"""Issue 14 item 4: bad input is refused at once, with an answer that says what to do.

Real parts: the `relay` program (CLI and `relay serve`), a raw SMTP client over loopback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess
from tests.rig import names
from tests.smtp_raw import RawSMTP

RELAY = [sys.executable, "-m", "relay"]


@pytest.fixture
def offline(tmp_path: Path) -> RelayProcess:
    """A relay directory with one shop, for commands that need no running server."""
    relay = RelayProcess(tmp_path / "relay", "127.0.0.1:9", 9).init()
    relay.add_shop()
    return relay


def _session(relay: RelayProcess) -> RawSMTP:
    smtp = RawSMTP(relay.submission_port)
    smtp.cmd("EHLO client.example.org")
    assert smtp.starttls().startswith("220")
    assert smtp.login(SHOP, SHOP_PASSWORD).startswith("235")
    assert smtp.cmd("MAIL FROM:<info@shop.example.com>").startswith("250")
    return smtp


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("<not-an-address>", "must have an @-sign"),
        ("<max@exa_mple.com>", "'_'"),
        ("<>", "not a valid address"),
        ("<" + "x" * 300 + "@example.org>", "too long"),
        ("<two@@example.org>", "malformed address"),  # aiosmtpd's own answer, also 553 5.1.3
        ("<ma\u202ex@example.org>", "553 5.1.3"),  # no control character echoed back
    ],
)
def test_a_recipient_that_is_no_address_is_refused_at_rcpt(
    relay: RelayProcess, address: str, why: str
) -> None:
    smtp = _session(relay)
    answer = smtp.cmd(f"RCPT TO:{address}")
    assert answer.startswith("553 5.1.3"), answer
    assert why in answer and len(answer) <= 512
    assert answer.isprintable(), repr(answer)
    # The session goes on: a good recipient in the same transaction is taken.
    assert smtp.cmd(f"RCPT TO:<{names.CUSTOMER}>").startswith("250")
    assert smtp.cmd("RSET").startswith("250")
    smtp.close()


def test_test_email_to_no_address_is_a_usage_error(offline: RelayProcess) -> None:
    done = offline.run("test-email", "--shop", SHOP, "--to", "not-an-address", check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--to" in done.stderr and "not a valid address" in done.stderr
    assert offline.recipients() == []  # nothing queued


def test_messages_of_an_unknown_shop_says_so(offline: RelayProcess) -> None:
    done = offline.run("messages", "--shop", "nosuchshop", check=False)
    assert done.returncode == 1
    assert "no shop 'nosuchshop'" in done.stderr and "relay shop list" in done.stderr
    assert done.stdout == ""


def test_config_pointing_at_a_directory_says_what_to_pass(offline: RelayProcess) -> None:
    done = offline.run("--config", str(offline.root), "status", config=False, check=False)
    assert done.returncode == 1
    assert "is a directory" in done.stderr
    assert f"--config {offline.root / 'relay.toml'}" in done.stderr


def _add(relay: RelayProcess, *options: str) -> object:
    args = ["shop", "add", "other", "--domain", "other.example.com", "--sender-name", "Other"]
    return relay.run(*args, *options, check=False)


def test_shop_add_refuses_a_short_password(offline: RelayProcess) -> None:
    done = _add(offline, "--sender", "info@other.example.com", "--password", "short")
    assert done.returncode == 2  # type: ignore[attr-defined]
    assert "at least 12 characters" in done.stderr  # type: ignore[attr-defined]
    assert "other" not in offline.run("shop", "list").stdout


def test_shop_add_refuses_a_sender_outside_its_domains(offline: RelayProcess) -> None:
    done = _add(offline, "--sender", "info@elsewhere.example.net", "--password", "long-enough-pw")
    assert done.returncode == 2  # type: ignore[attr-defined]
    assert "not at the shop's domains (other.example.com)" in done.stderr  # type: ignore[attr-defined]
    assert "--domain elsewhere.example.net" in done.stderr  # type: ignore[attr-defined]
    assert "other" not in offline.run("shop", "list").stdout


def test_shop_add_takes_a_public_mailbox_sender_on_purpose(offline: RelayProcess) -> None:
    """SPEC "Sender identity": a shop may send from its gmail.com address (as the fallback)."""
    done = _add(offline, "--sender", "mein.shop@gmail.com", "--password", "long-enough-pw")
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    shop = offline.json("shop", "show", "other")
    assert shop["sender"] == "mein.shop@gmail.com"


def test_init_writes_the_relayhost_and_stays_safe_to_run_twice(tmp_path: Path) -> None:
    def init(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*RELAY, "init", "--dir", str(tmp_path / "r"), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    bad = init("--relayhost", "no port:x")
    assert bad.returncode == 2 and "--relayhost" in bad.stderr
    assert init("--relayhost", "127.0.0.1:2526").returncode == 0
    assert 'relayhost = "127.0.0.1:2526"' in (tmp_path / "r" / "relay.toml").read_text()
    assert init("--relayhost", "127.0.0.1:2526").returncode == 0  # the same again: fine
    other = init("--relayhost", "127.0.0.1:2527")
    assert other.returncode == 1 and "another relayhost" in other.stderr
