"""API tokens through the real CLI: shown once, stored as a hash, several per shop told apart
by id and name, revoked at once; the Bearer check and the log redaction. The exact-token check
runs on both store backends (revocation on PostgreSQL: tests/test_api_send.py and, across two
nodes, tests/test_nodes_security.py)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.actions.tokens import TOKEN, authenticate, digest, redact
from tests.harness import RelayProcess


@pytest.fixture
def relay(tmp_path: Path, fresh_store: Callable[[], str | None]) -> RelayProcess:
    """A relay's directory and database (not started: the CLI alone)."""
    made = RelayProcess(tmp_path / "relay", "127.0.0.1:1", 25, store_url=fresh_store()).init()
    made.add_shop()
    made.add_shop("zweiter-shop", "bare-shop.example.com")
    return made


def test_a_token_is_shown_once_and_stored_as_its_hash(relay: RelayProcess) -> None:
    made = relay.json("shop", "token", "create", "mein-shop", "--name", "shop system")
    assert TOKEN.fullmatch(made["token"]) and made["name"] == "shop system"
    assert made["token"].startswith(f"rly_{made['id']}_")
    listed = relay.json("shop", "token", "list", "mein-shop")
    assert [(t["id"], t["name"], t["active"]) for t in listed] == [
        (made["id"], "shop system", True)
    ]
    assert (
        "token" not in listed[0]
        and made["token"] not in relay.run("shop", "token", "list", "mein-shop").stdout
    )
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    (stored,) = conn.execute("SELECT hash FROM api_tokens").fetchone()
    conn.close()
    assert stored == digest(made["token"])
    assert (
        made["token"].split("_", 2)[2].encode()
        not in (relay.root / "var" / "relay.db").read_bytes()
    )
    text = relay.run("shop", "token", "create", "mein-shop").stdout
    assert "shown once" in text and re.search(r"rly_[a-z2-7]{8}_\S{43}", text)


def test_tokens_of_a_shop_are_told_apart_and_revoked_one_by_one(relay: RelayProcess) -> None:
    first = relay.json("shop", "token", "create", "mein-shop", "--name", "erp")
    second = relay.json("shop", "token", "create", "mein-shop", "--name", "shop")
    taken = relay.run("shop", "token", "create", "mein-shop", "--name", "erp", check=False)
    assert taken.returncode == 2 and "has an active token named 'erp'" in taken.stderr
    db = relay.open_db()
    assert authenticate(db.read(), first["token"]).shop == "mein-shop"  # type: ignore[union-attr]
    relay.run("shop", "token", "revoke", "mein-shop", "erp")  # by name
    assert authenticate(db.read(), first["token"]) is None
    assert authenticate(db.read(), second["token"]) is not None
    again = relay.run("shop", "token", "revoke", "mein-shop", first["id"], check=False)
    assert again.returncode == 1 and "revoked already" in again.stderr
    # Another shop cannot revoke it, nor learn that it exists.
    foreign = relay.run("shop", "token", "revoke", "zweiter-shop", second["id"], check=False)
    assert foreign.returncode == 1 and "has no token" in foreign.stderr
    assert authenticate(db.read(), second["token"]) is not None
    unknown = relay.run("shop", "token", "list", "no-such-shop", check=False)
    assert unknown.returncode == 1 and "relay shop list" in unknown.stderr
    states = {t["name"]: t["active"] for t in relay.json("shop", "token", "list", "mein-shop")}
    assert states == {"erp": False, "shop": True}
    db.close()


@pytest.mark.backends("sqlite", "postgresql")
def test_only_the_exact_token_authenticates(relay: RelayProcess) -> None:
    token = relay.json("shop", "token", "create", "mein-shop")["token"]
    db = relay.open_db()
    conn = db.read()
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (
        flipped,
        token[:-1],
        token + "A",
        token.upper(),
        "",
        "rly_",
        token.replace("rly_", "xyz_"),
    ):
        assert authenticate(conn, wrong) is None, wrong
    assert authenticate(conn, token) is not None
    db.close()


def test_redaction_keeps_the_id_and_drops_the_secret() -> None:
    token = "rly_abcdefgh_" + "S" * 43
    assert redact(f"GET /api/v1/messages/{token} 404") == (
        "GET /api/v1/messages/rly_abcdefgh_<redacted> 404"
    )
    assert "SSSS" not in redact(f"?t={token[:30]}")  # a cut-off one too
