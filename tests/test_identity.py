"""Sender identity: fallback until the shop's domain is verified, then signed as the shop.

Both signatures are checked by an independent verifier (Perl Mail::DKIM) against keys served by
the real DNS server (nsd) on loopback.
"""

from __future__ import annotations

import email
import sqlite3
import time
from pathlib import Path

import pytest

from relay.prepare.pipeline import Rejection
from relay.store.db import open_database
from relay.store.shops import save_verdict
from tests.harness import SHOP, RelayProcess, queue_id, submit, swaks, wait
from tests.keys_in_dns import publish_keys, stored_message, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.shop_submit import SHOP as SHOP_NAME
from tests.shop_submit import shop_database
from tests.shop_submit import submit as submit_message

FROM = "info@shop.example.com"


def _submit(relay: RelayProcess) -> str:
    headers = ("X-Relay-Kind: payment-info", "Subject: Ihre Bestellung")
    return submit(relay, names.CUSTOMER, *headers, header_from=f"Mein Shop <{FROM}>")


def test_unverified_shop_goes_out_from_the_fallback(relay: RelayProcess, nsd: NsdServer) -> None:
    publish_keys(nsd, relay)
    qid = _submit(relay)
    sent = stored_message(relay, qid, names.CUSTOMER)
    headers = email.message_from_bytes(sent)
    assert headers["From"] == "Mein Shop <shops@relay.example.net>"
    assert headers["Reply-To"] == f"Mein Shop <{FROM}>"
    assert not any(k.lower().startswith("x-relay") for k in headers)
    assert verify_dkim(sent, nsd.nameserver)[0].startswith("pass d=relay.example.net")
    status = relay.json("status")
    warned = {s["shop"]: s["warnings"] for s in status["shops_with_warnings"]}
    assert "not verified" in warned[SHOP][0]


def test_verified_shop_is_signed_for_its_own_domain(relay: RelayProcess, nsd: NsdServer) -> None:
    publish_keys(nsd, relay, SHOP)
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    # `relay serve` checks a shop without a verdict at start-up; let that finish first, or its
    # result (computed before the key was published) could overwrite the fixture.
    wait(
        lambda: conn.execute("SELECT 1 FROM dns_verdicts WHERE shop = ?", (SHOP,)).fetchone(),
        20,
        "the start-up DNS check",
    )
    conn.close()
    # The verified-identity fixture: a stored DNS verdict, written as `relay dns check` does
    # (which also tells the running relay's shop cache that verdicts changed).
    db = open_database("sqlite:///var/relay.db", relay.root)
    with db.transaction() as tx:
        save_verdict(tx, SHOP, "shop.example.com", True, {}, False, time.time())
    db.close()
    qid = _submit(relay)
    sent = stored_message(relay, qid, names.CUSTOMER)
    headers = email.message_from_bytes(sent)
    assert headers["From"] == f"Mein Shop <{FROM}>" and headers["Reply-To"] is None
    assert verify_dkim(sent, nsd.nameserver)[0].startswith("pass d=shop.example.com")
    assert relay.json("status")["shops_with_warnings"] == []


def test_message_id_and_date_are_added_when_missing(relay: RelayProcess) -> None:
    done = swaks(
        relay.submission_port,
        "--from",
        FROM,
        "--to",
        names.CUSTOMER,
        "--data",
        f"From: {FROM}\r\nSubject: bare\r\n\r\nhello\r\n",
    )
    qid = queue_id(done.stdout)
    headers = email.message_from_bytes(stored_message(relay, qid, names.CUSTOMER))
    assert headers["Message-ID"] == f"<{qid.lower()}@relay.example.net>"
    assert headers["Date"]


def test_large_message_is_signed_off_the_event_loop_and_verifies(
    relay: RelayProcess, nsd: NsdServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    publish_keys(nsd, relay)
    body = tmp_path / "body.txt"
    body.write_text("Zeile mit  zwei Leerzeichen und Tab\t am Ende \n" * 9000)  # ~400 KB
    qid = submit(relay, names.CUSTOMER, body=f"@{body}")
    sent = stored_message(relay, qid, names.CUSTOMER)
    assert len(sent) > 300_000
    assert verify_dkim(sent, nsd.nameserver)[0].startswith("pass d=relay.example.net")


def test_fallback_from_always_carries_the_shops_own_name(relay: RelayProcess) -> None:
    """Issue 9 item 3: `From: "Shop B" <info@shop-a...>` must not go out as the very header
    genuine Shop B mail carries; in fallback mode the name is the shop's configured one."""
    qid = submit(
        relay,
        names.CUSTOMER,
        "X-Relay-Kind: payment-info",
        header_from=f'"Anderer Shop" <{FROM}>',
    )
    headers = email.message_from_bytes(stored_message(relay, qid, names.CUSTOMER))
    assert headers["From"] == "Mein Shop <shops@relay.example.net>"
    assert headers["Reply-To"] == f"Mein Shop <{FROM}>"


def test_a_sender_header_of_another_shop_is_refused_like_a_foreign_from(
    relay: RelayProcess,
) -> None:
    from tests.harness import shop_mail

    for sender in ("info@other-shop.example.com", "Mein Shop <info@gmail.com>"):
        done = shop_mail(relay, names.CUSTOMER, f"Sender: {sender}")
        assert "550 5.7.1 Sender" in done.stdout, done.stdout
        assert "does not belong to shop mein-shop" in done.stdout
    two = shop_mail(relay, names.CUSTOMER, f"Sender: {FROM}", f"Sender: {FROM}")
    assert "550 5.6.0 Sender must be one field" in two.stdout, two.stdout
    own = shop_mail(relay, names.CUSTOMER, "Sender: Versand <versand@shop.example.com>")
    assert "queued as" in own.stdout, own.stdout
    assert (
        sqlite3.connect(relay.root / "var" / "relay.db")
        .execute("SELECT count(*) FROM messages")
        .fetchone()[0]
        == 1
    )


def test_signing_processes_sign_the_header_block_with_the_body_hash_made_here(
    relay_factory, nsd: NsdServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """submission.signing_workers > 0: only the header block and the body hash go to the
    signing process; the signature must still verify, for a small and a spooled message."""
    relay = relay_factory({"relay": {"workers": 1}, "submission": {"signing_workers": 1}}).start()
    publish_keys(nsd, relay)
    small = _submit(relay)
    body = tmp_path / "body.txt"
    body.write_text("Zeile  eins\t \n" * 150_000)  # 2 MB: spooled, hashed in a thread
    large = submit(relay, names.CUSTOMER, "X-Relay-Kind: refund", body=f"@{body}")
    for qid in (small, large):
        sent = stored_message(relay, qid, names.CUSTOMER)
        assert verify_dkim(sent, nsd.nameserver)[0].startswith("pass d=relay.example.net")


# --- a From that is no mailbox (unit: the submission path on a real SQLite store) -------------


@pytest.mark.parametrize(
    "header",
    [
        "From: ceo@bank.example@shop.example.com",
        "From: info@shop.example.com\r\nSender: ceo@bank.example@shop.example.com",
        "From: <@shop.example.com>",
        "From: Bank <ceo@bank.example> <info@shop.example.com>",
        "From: Shop <info@shop.example.com> ceo@bank.example",
    ],
)
def test_a_from_that_is_no_mailbox_is_refused(tmp_path: Path, header: str) -> None:
    """`getaddresses` read `ceo@bank.example@shop.example.com` as `@shop.example.com`, the
    shop's domain: it passed the ownership check and went out DKIM-signed by the shop, while
    mail clients disagree on which "@" counts ("Composition Kills", USENIX Security 2020)."""
    db, settings = shop_database(tmp_path)
    with db.transaction() as tx:  # verified: the From would be sent as written
        save_verdict(tx, SHOP_NAME, "shop.example.com", True, {}, False, time.time())
    message = f"{header}\r\nTo: max@example.org\r\nSubject: Rechnung\r\n\r\nBitte zahlen.\r\n"
    with pytest.raises(Rejection) as refused:
        sent = submit_message(db, settings, message.encode(), ["max@example.org"])
        head = bytes(sent.body).split(b"\r\n\r\n", 1)[0].decode()
        pytest.fail(f"accepted and sent as identity {sent.identity.kind}:\n{head}")
    assert refused.value.reply.startswith("550 5.6.0"), refused.value.reply


@pytest.mark.parametrize(
    "sender",
    [
        "info@shop.example.com",
        "Möbel Müller GmbH & Co. KG <info@shop.example.com>",  # obsolete syntax: a period
        '"Müller, Shop" <info@shop.example.com>',
        "=?utf-8?q?M=C3=B6bel?= <info@shop.example.com>",
        "info@shop.example.com (Möbel Müller)",
    ],
)
def test_real_from_headers_still_pass(tmp_path: Path, sender: str) -> None:
    db, settings = shop_database(tmp_path)
    message = f"From: {sender}\r\nTo: max@example.org\r\nSubject: Rechnung\r\n\r\nHallo\r\n"
    submit_message(db, settings, message.encode(), ["max@example.org"])
