"""Publish the relay's and a shop's DKIM keys in the test DNS server."""

from __future__ import annotations

import subprocess
from pathlib import Path

from relay.keys import public_key_b64
from tests.harness import RelayProcess
from tests.rig.nsd import NsdServer
from tests.rig.tools import require

VERIFIER = Path(__file__).parent / "tools" / "dkim_verify.pl"


def txt(value: str) -> str:
    """A TXT value split into quoted 255-octet strings (RFC 1035 3.3.14)."""
    return " ".join(f'"{value[i : i + 250]}"' for i in range(0, len(value), 250))


def shop_key(relay: RelayProcess, shop: str) -> tuple[str, str]:
    [found] = relay.query("SELECT dkim_selector, dkim_private_key FROM shops WHERE name = ?", shop)
    return found["dkim_selector"], public_key_b64(found["dkim_private_key"])


def publish_keys(nsd: NsdServer, relay: RelayProcess, shop: str | None = None) -> None:
    fallback = public_key_b64((relay.root / "var" / "dkim" / "fallback.pem").read_text())
    net = nsd.zones["example.net"].rstrip("\n")
    net = "\n".join(line for line in net.splitlines() if "._domainkey" not in line)
    nsd.set_zone(
        "example.net",
        net + f"\nrelay._domainkey.relay IN TXT {txt('v=DKIM1; k=rsa; p=' + fallback)}\n",
    )
    if shop:
        selector, public = shop_key(relay, shop)
        com = nsd.zones["example.com"].rstrip("\n")
        nsd.set_zone(
            "example.com",
            com + f"\n{selector}._domainkey.shop IN TXT {txt('v=DKIM1; k=rsa; p=' + public)}\n",
        )


def verify_dkim(message: bytes, nameserver: str) -> list[str]:
    """Results of the independent verifier (Mail::DKIM), one line per signature."""
    require("perl")
    host, port = nameserver.rsplit(":", 1)
    done = subprocess.run(
        ["perl", str(VERIFIER), host, port], input=message, capture_output=True, timeout=60
    )
    if done.returncode != 0:
        raise AssertionError(f"verifier failed: {done.stderr.decode()}")
    return done.stdout.decode().splitlines()


def stored_message(relay: RelayProcess, queue_id: str, address: str) -> bytes:
    """The exact bytes the relay will send to `address` (signature prefix + body)."""
    found = relay.query(
        "SELECT r.prefix, m.body FROM recipients r JOIN messages m ON m.id = r.message"
        " WHERE m.id = ? AND r.address = ?",
        queue_id,
        address,
    )
    assert found, f"no stored message {queue_id} for {address}"
    return bytes(found[0]["prefix"]) + bytes(found[0]["body"])
