"""`relay shop user add|list|remove`: console users of a shop, their generated passwords (shown
once, stored as scrypt hashes), and the CLI's answers to wrong input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from relay.cli import main
from relay.passwords import verify_password


@pytest.fixture
def root(tmp_path: Path) -> Path:
    CliRunner().invoke(main, ["init", "--dir", str(tmp_path)], catch_exceptions=False)
    done = relay(tmp_path, "shop", "add", "mein-shop", "--domain", "shop.example.com",
                 "--sender", "info@shop.example.com", "--sender-name", "Mein Shop",
                 "--password", "correct horse battery")  # fmt: skip
    assert done.exit_code == 0, done.output
    return tmp_path


def relay(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(root / "relay.toml"), *args])


def test_a_user_gets_a_password_shown_once_and_stored_as_a_hash(root: Path) -> None:
    done = relay(root, "shop", "user", "add", "mein-shop", "Anna@Shop.Example.com", "--json")
    assert done.exit_code == 0, done.output
    made = json.loads(done.stdout)
    assert made["email"] == "anna@shop.example.com" and len(made["password"]) >= 20
    stored = (
        sqlite3.connect(root / "var" / "relay.db")
        .execute("SELECT password_hash FROM console_users")
        .fetchone()[0]
    )
    assert stored.startswith("scrypt$") and made["password"] not in stored
    assert verify_password(made["password"], stored)
    listed = json.loads(relay(root, "shop", "user", "list", "mein-shop", "--json").stdout)
    assert [u["email"] for u in listed] == ["anna@shop.example.com"]
    assert "password" not in json.dumps(listed)  # neither the password nor its hash
    again = relay(root, "shop", "user", "add", "mein-shop", "anna@shop.example.com",
                  "--new-password", "--json")  # fmt: skip
    assert json.loads(again.stdout)["password"] != made["password"]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("add", "mein-shop", "no-at-sign"), 2, "is not an e-mail address"),
        (("add", "no-shop", "a@example.org"), 1, "no shop 'no-shop'"),
        (("remove", "mein-shop", "nobody@example.org"), 1, "has no console user"),
        (("add", "mein-shop", "nobody@example.org", "--new-password"), 1, "has no console user"),
        (("list", "no-shop"), 1, "`relay shop list` shows the shops"),
    ],
)
def test_wrong_input_says_what_to_do(root: Path, args: tuple[str, ...], code: int,
                                     words: str) -> None:  # fmt: skip
    done = relay(root, "shop", "user", *args)
    assert done.exit_code == code and words in done.output, done.output


def test_a_second_add_is_refused_and_says_how_to_reset(root: Path) -> None:
    assert relay(root, "shop", "user", "add", "mein-shop", "bo@example.org").exit_code == 0
    done = relay(root, "shop", "user", "add", "mein-shop", "BO@example.org")
    assert done.exit_code == 1 and "--new-password" in done.output
    removed = relay(root, "shop", "user", "remove", "mein-shop", "bo@example.org")
    assert removed.exit_code == 0 and "sessions have ended" in removed.output
    assert json.loads(relay(root, "shop", "user", "list", "mein-shop", "--json").stdout) == []
