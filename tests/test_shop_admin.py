"""`relay shop set` and `relay shop remove` on the real CLI, and what a running relay makes of
them at once: a removed shop's credentials fail at the next AUTH and in sessions already logged
in, a new password replaces the old one even where the old one was cached, a new sender name
is on the next message."""

from __future__ import annotations

import email
import json
import smtplib
import sqlite3
import ssl

import pytest

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess, submit
from tests.keys_in_dns import stored_message
from tests.rig import names

FROM = "info@shop.example.com"
MESSAGE = (
    f"From: {FROM}\r\nTo: {names.CUSTOMER}\r\nSubject: Rechnung\r\nX-Relay-Kind: payment-info\r\n"
    "X-Relay-Order: 9\r\n\r\nHallo\r\n"
).encode()


def session(relay: RelayProcess, password: str = SHOP_PASSWORD) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", relay.submission_port, timeout=30)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    client.starttls(context=context)
    client.login(SHOP, password)
    return client


def events(relay: RelayProcess, kind: str) -> list[dict]:
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    try:
        found = conn.execute("SELECT detail FROM events WHERE kind = ? ORDER BY id", (kind,))
        return [json.loads(detail) for (detail,) in found]
    finally:
        conn.close()


def test_shop_set_changes_what_shop_add_set(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory()
    done = relay.run("shop", "set", SHOP, "--sender-name", "Möbel Müller", "--language", "en",
                     "--domain", "mueller-moebel.example.com")  # fmt: skip
    assert "changed domains, sender_name, language" in done.stdout
    # The records to publish for the new domain, and only for it.
    assert "._domainkey.mueller-moebel.example.com  TXT" in done.stdout
    assert "._domainkey.shop.example.com" not in done.stdout
    relay.run("shop", "set", SHOP, "--sender", "info@mueller-moebel.example.com",
              "--remove-domain", "shop.example.com")  # fmt: skip
    shown = relay.json("shop", "show", SHOP)
    assert shown["domains"] == ["mueller-moebel.example.com"]
    assert (shown["sender"], shown["sender_name"], shown["language"]) == (
        "info@mueller-moebel.example.com", "Möbel Müller", "en")  # fmt: skip
    generated = relay.run("shop", "set", SHOP, "--password").stdout
    new_password = generated.split("password: ")[1].split()[0]
    assert len(new_password) >= 12
    recorded = events(relay, "shop-changed")
    assert [e["fields"] for e in recorded] == [
        ["domains", "sender_name", "language"], ["domains", "sender"], ["password"]]  # fmt: skip
    assert new_password not in json.dumps(recorded) and "scrypt" not in json.dumps(recorded)


REFUSALS = [
    (("--domain", "gmail.com"), "gmail.com is a public mailbox domain"),
    (("--domain", "GMAIL.com."), "public mailbox domain"),
    (("--sender", "info@other.example.org"), "is not at the shop's domains"),
    (("--password", "kurz"), "use at least 12 characters"),
    (("--remove-domain", "shop.example.com"), "at least one domain"),
    (("--domain", "b.example.com", "--remove-domain", "shop.example.com"),
     "the sender info@shop.example.com is at a domain that would be removed"),
    (("--remove-domain", "nope.example.com"), "not one of the shop's domains"),
    (("--sender-name", "Zeile\nzwei"), "one line"),
    ((), "nothing to change"),
]  # fmt: skip


def test_shop_set_refusals_are_usage_errors_and_change_nothing(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory()
    before = relay.json("shop", "show", SHOP)
    for args, words in REFUSALS:
        done = relay.run("shop", "set", SHOP, *args, check=False)
        assert done.returncode == 2 and words in " ".join(done.stderr.split()), (args, done.stderr)
    assert relay.json("shop", "show", SHOP) == before
    assert events(relay, "shop-changed") == []


def test_unknown_shop_is_exit_1_naming_the_list(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory()
    for args in (("set", "nope", "--language", "en"), ("remove", "nope")):
        done = relay.run("shop", *args, check=False)
        assert done.returncode == 1 and "`relay shop list`" in done.stderr


def test_a_removed_shop_stops_at_once_also_in_open_sessions(relay: RelayProcess) -> None:
    submit(relay, names.CUSTOMER, "X-Relay-Kind: payment-info", "X-Relay-Order: 1")
    open_session = session(relay)  # logged in (and its password now in the AUTH cache)
    open_session.sendmail(FROM, [names.CUSTOMER], MESSAGE)  # works while the shop exists
    relay.run("shop", "remove", SHOP)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        open_session.sendmail(FROM, [names.CUSTOMER], MESSAGE)
    assert refused.value.smtp_code == 530
    open_session.close()
    with pytest.raises(smtplib.SMTPAuthenticationError) as login:
        session(relay)
    assert login.value.smtp_code == 535
    # History stays; the shop is gone from the lists; its name is not given out again.
    assert len(relay.recipients(shop=SHOP)) == 2
    assert [s["name"] for s in relay.json("shop", "list")] == []
    again = relay.run("shop", "add", SHOP, "--domain", "shop.example.com", "--sender", FROM,
                      "--sender-name", "X", "--password", SHOP_PASSWORD, check=False)  # fmt: skip
    assert again.returncode == 1 and "existed" in again.stderr
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    (key,) = conn.execute("SELECT dkim_private_key FROM shops WHERE name = ?", (SHOP,)).fetchone()
    conn.close()
    assert key == ""  # no key of a removed shop is kept


def test_a_new_password_and_sender_name_count_from_the_next_session(relay_factory) -> None:  # type: ignore[no-untyped-def]
    # One worker: the session below surely meets the process that cached the old password.
    relay = relay_factory({"relay": {"workers": 1}}).start()
    session(relay).quit()  # the old password verified once: remembered by the worker
    new = "ein neues langes Passwort"
    relay.run("shop", "set", SHOP, "--password", new, "--sender-name", "Müller & Söhne")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        session(relay)
    client = session(relay, new)
    client.sendmail(FROM, [names.CUSTOMER], MESSAGE)
    client.quit()
    queued = relay.recipients(order="9")[0]["message"]
    sent = email.message_from_bytes(stored_message(relay, queued, names.CUSTOMER))
    assert "=?utf-8?" in sent["From"]  # the fallback From carries the new name, encoded
    assert str(email.header.make_header(email.header.decode_header(sent["From"]))).startswith(
        "Müller & Söhne"
    )
