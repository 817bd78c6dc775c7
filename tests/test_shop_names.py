"""No shop sends under another shop's name (SPEC "Shops"; issue 9 item 3): in fallback mode a
customer tells shops apart by the display name and by a public mailbox sender in Reply-To, so
neither may be taken from another shop, by the CLI or, above all, by a shop itself in its
console (review 3: shop A copied shop C's From and Reply-To exactly)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from relay.cli import main
from relay.store.sql import row
from tests.console_app import PASSWORD_A, SHOP_A, cli, running_console

SHOP_C, C_SENDER, C_NAME = "shop-c", "moebel.mueller@gmail.com", "Möbel Müller"


def relay(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(root / "relay.toml"), *args])


def add(root: Path, name: str, sender: str, sender_name: str) -> Result:
    domain = f"{name}.example.com"
    return relay(root, "shop", "add", name, "--domain", domain, "--sender", sender,
                 "--sender-name", sender_name, "--password", "long enough password")  # fmt: skip


@pytest.fixture
def root(tmp_path: Path) -> Path:
    CliRunner().invoke(main, ["init", "--dir", str(tmp_path)], catch_exceptions=False)
    assert add(tmp_path, SHOP_C, C_SENDER, C_NAME).exit_code == 0
    return tmp_path


@pytest.mark.parametrize(
    ("sender", "sender_name", "said"),
    [
        ("Moebel.Mueller@GMAIL.com", "Other Name", "sender of another shop"),
        ("info@shop-x.example.com", " möbel  MÜLLER ", "another shop sends as"),
    ],
)
def test_the_cli_refuses_another_shops_public_sender_or_name(
    root: Path, sender: str, sender_name: str, said: str
) -> None:
    done = add(root, "shop-x", sender, sender_name)
    assert done.exit_code == 2 and said in done.output  # a usage error, naming the option
    assert add(root, "shop-x", "info@shop-x.example.com", "Shop X").exit_code == 0
    changed = relay(root, "shop", "set", "shop-x", "--sender-name", "MÖBEL MÜLLER")
    assert changed.exit_code == 2 and "another shop sends as" in changed.output
    # The shop's own values are no conflict with itself.
    assert relay(root, "shop", "set", SHOP_C, "--sender-name", C_NAME).exit_code == 0


def _from_and_reply_to(console, message_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    found = row(console.db.read(), "SELECT body FROM messages WHERE id = ?", (message_id,))
    parsed = email.message_from_bytes(bytes(found["body"]), policy=email.policy.default)
    return str(parsed["From"]), str(parsed["Reply-To"])


def test_a_shop_cannot_take_another_shops_sender_in_the_console(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        cli(console.root, "shop", "add", SHOP_C, "--domain", "moebel.example.net",
            "--sender", C_SENDER, "--sender-name", C_NAME, "--language", "de",
            "--password", "password of shop c")  # fmt: skip
        genuine = console.submit(SHOP_C, "kunde@example.org", sender=C_SENDER)

        client = console.client()
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        saved = client.post(
            "/console/settings",
            {"csrf": client.token("/console/settings"), "sender": C_SENDER,
             "sender_name": C_NAME, "language": "de", "kind": "payment-reminder"},
        )  # fmt: skip
        assert saved.status == 422, "shop A took shop C's sender and name"
        assert "another shop" in saved.text
        # Shop A can still send as itself; what it sends never carries shop C's pair.
        own = console.submit(SHOP_A, "kunde@example.org")
        assert _from_and_reply_to(console, own) != _from_and_reply_to(console, genuine)
