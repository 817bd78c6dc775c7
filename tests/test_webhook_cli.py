"""`relay shop webhook` through the real CLI (and nsd for names): the secret shown once and
stored sealed, rotation, the SSRF refusals as usage errors, removal; the vault itself."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest

from relay.webhooks.vault import SealBroken, Vault
from tests.harness import RelayProcess
from tests.rig import names
from tests.rig.nsd import NsdServer


def relay_with(tmp_path: Path, nameserver: str, allow_private: bool) -> RelayProcess:
    made = RelayProcess(
        tmp_path / "relay",
        nameserver,
        25,
        extra={"webhooks": {"allow_private": allow_private}},
    ).init()
    made.add_shop()
    return made


@pytest.fixture
def relay(tmp_path: Path) -> RelayProcess:
    return relay_with(tmp_path, "127.0.0.1:1", allow_private=True)


def sealed_secrets(relay: RelayProcess) -> list[bytes]:
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    found = conn.execute("SELECT secret, previous_secret FROM webhook_endpoints").fetchone()
    conn.close()
    return [bytes(s) for s in found if s is not None]


def test_the_secret_is_shown_once_stored_sealed_and_rotated(relay: RelayProcess) -> None:
    made = relay.json("shop", "webhook", "mein-shop", "--url", "http://127.0.0.1:9999/hook")
    secret = made["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert made["events"][0] == "message.delivered" and len(made["events"]) == 8
    shown = relay.json("shop", "webhook", "mein-shop")
    assert "secret" not in shown and shown["url"] == "http://127.0.0.1:9999/hook"
    assert secret not in relay.run("shop", "webhook", "mein-shop").stdout
    (stored,) = sealed_secrets(relay)
    assert secret.encode() not in stored and secret[6:].encode() not in stored
    assert secret.encode() not in (relay.root / "var" / "relay.db").read_bytes()
    vault = Vault(bytes.fromhex((relay.root / "var" / "secret.key").read_text().strip()))
    assert vault.open("mein-shop", stored) == secret
    changed = relay.json("shop", "webhook", "mein-shop", "--events", "message.undeliverable")
    assert changed["secret"] is None and changed["events"] == ["message.undeliverable"]
    rotated = relay.json("shop", "webhook", "mein-shop", "--rotate-secret")
    assert rotated["secret"] not in (None, secret)
    assert rotated["previous_secret_expires_at"] is not None  # the old one signs for a day
    new, old = sealed_secrets(relay)
    assert vault.open("mein-shop", new) == rotated["secret"]
    assert vault.open("mein-shop", old) == secret


def test_refused_urls_and_event_types_are_usage_errors(tmp_path: Path, nsd: NsdServer) -> None:
    relay = relay_with(tmp_path, nsd.nameserver, allow_private=False)
    refused = {
        "http://example.org/hook": "must start with https://",
        "https://169.254.169.254/latest/meta-data": "169.254.169.254",
        "http://127.0.0.1:8080/hook": "127.0.0.1",
        f"https://{names.HOOK_METADATA_HOST}/hook": "169.254.169.254",
        f"https://{names.HOOK_PRIVATE_HOST}/hook": "10.20.30.40",
        f"https://{names.HOOK_MIXED_HOST}/hook": f"{names.HOOK_MIXED_HOST} resolves to",
        "https://user:pw@shop.example.com/hook": "user name or password",
        "https://2130706433/hook": "non-standard spelling",
    }
    for url, words in refused.items():
        done = relay.run("shop", "webhook", "mein-shop", "--url", url, check=False)
        assert done.returncode == 2, (url, done.stdout, done.stderr)
        assert words in done.stderr and "--url" in done.stderr, (url, done.stderr)
    bad = relay.run(
        "shop", "webhook", "mein-shop", "--url", "https://shop.example.com/h", "--events",
        "message.delivered,message.nope", check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "unknown event type message.nope" in bad.stderr
    nothing = relay.run("shop", "webhook", "mein-shop", check=False)
    assert nothing.returncode == 1 and "has no webhook endpoint" in nothing.stderr
    unknown = relay.run("shop", "webhook", "nope", "--url", "https://x.example.org/", check=False)
    assert unknown.returncode == 1 and "no shop 'nope'" in unknown.stderr


def test_a_url_whose_name_cannot_be_resolved_now_is_no_usage_error(relay: RelayProcess) -> None:
    """Review 3: DNS that does not answer (here 127.0.0.1:1) is the relay's outage, not a
    wrong option: exit 1, not 2, and nothing is saved."""
    done = relay.run("shop", "webhook", "mein-shop", "--url", "https://hooks.example.com/relay",
                     check=False)  # fmt: skip
    assert done.returncode == 1 and "could not be resolved now" in done.stderr, done.stderr
    shown = relay.run("shop", "webhook", "mein-shop", check=False)
    assert "has no webhook endpoint" in shown.stderr  # nothing was saved


def test_removing_the_endpoint(relay: RelayProcess) -> None:
    relay.run("shop", "webhook", "mein-shop", "--url", "http://127.0.0.1:9999/hook")
    assert "removed" in relay.run("shop", "webhook", "mein-shop", "--remove").stdout
    assert relay.run("shop", "webhook", "mein-shop", check=False).returncode == 1
    both = relay.run("shop", "webhook", "mein-shop", "--remove", "--rotate-secret", check=False)
    assert both.returncode == 2


def test_a_sealed_secret_opens_only_for_its_shop_and_key() -> None:
    vault = Vault(b"k" * 32)
    sealed = vault.seal("mein-shop", "whsec_abc")
    assert vault.open("mein-shop", sealed) == "whsec_abc"
    assert vault.seal("mein-shop", "whsec_abc") != sealed  # a fresh nonce each time
    for shop, key, data in (
        ("other-shop", b"k" * 32, sealed),  # moved to another shop's row
        ("mein-shop", b"x" * 32, sealed),  # another relay's secret.key
        ("mein-shop", b"k" * 32, sealed[:-1] + bytes([sealed[-1] ^ 1])),  # altered
        ("mein-shop", b"k" * 32, b"whsec_abc"),  # stored in clear by something else
    ):
        with pytest.raises(SealBroken):
            Vault(key).open(shop, data)


def test_a_disabled_endpoint_is_a_warning_in_status(relay: RelayProcess) -> None:
    from relay.store.db import open_database
    from relay.store.webhooks import disable_endpoint

    relay.run("shop", "webhook", "mein-shop", "--url", "http://127.0.0.1:9999/hook")
    db = open_database("sqlite:///var/relay.db", relay.root)
    with db.transaction() as tx:
        disable_endpoint(tx, "mein-shop", "HTTP 410: the endpoint asks to stop", 1.0)
    db.close()
    text = relay.run("status").stdout
    assert "WARNING shop mein-shop: webhook endpoint http://127.0.0.1:9999/hook disabled" in text
    assert "relay shop webhook mein-shop --url URL enables it" in text
    relay.run("shop", "webhook", "mein-shop", "--url", "http://127.0.0.1:9998/hook")
    assert "disabled" not in relay.run("status").stdout
    assert relay.json("shop", "webhook", "mein-shop")["active"] is True
