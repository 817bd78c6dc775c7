"""Log-in, sessions and CSRF of the shop console, against its real HTTP listener (in this
process, tests/console_app.py): cookie attributes, log-out that ends a copied cookie, idle and
absolute expiry, removed users, throttled failures shared with SMTP AUTH, forms and fetches
without their token, and log-in redirects that stay on the console. What sessions keep in the
store (log-out, expiry, removed users and shops, failures per target) runs on both backends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiosmtpd.smtp import LoginPassword

from relay.actions.errors import transaction_write
from relay.http.console.sessions import ABSOLUTE_SECONDS, IDLE_SECONDS
from relay.logs import fields_of
from relay.smtp.auth import ShopAuthenticator
from relay.store.auth import failures
from relay.store.shops import get_shop
from relay.store.sql import execute
from tests.console_app import (
    PASSWORD_A,
    PASSWORD_B,
    SHOP_A,
    SHOP_B,
    Client,
    Console,
    cli,
    running_console,
)


@pytest.fixture
def console(tmp_path: Path, fresh_store: Callable[[], str | None]) -> Iterator[Console]:
    with running_console(tmp_path, store_url=fresh_store()) as running:
        yield running


def test_log_in_sets_a_session_cookie_as_spec_says(console: Console) -> None:
    client = console.client()
    login_page = client.get("/console/login")
    assert login_page.status == 200
    reply = client.login(SHOP_A, PASSWORD_A)
    assert (reply.status, reply.location) == (303, "/console/")
    session = next(c for c in client.set_cookies if c.startswith("relay_console="))
    attributes = {a.strip().lower() for a in session.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # plain HTTP on loopback: a Secure cookie never returns
    assert not any(a.startswith(("domain", "max-age", "expires")) for a in attributes)
    page = client.get("/console/")
    assert page.status == 200 and "Shop-A" in page.text


def test_https_consoles_get_secure_host_prefixed_cookies(tmp_path: Path) -> None:
    with running_console(tmp_path, public_url="https://relay.example.net") as console:
        client = console.client()
        page = client.get("/console/login")
        login_cookie = next(c for c in client.set_cookies if "relay_console_login=" in c)
        assert login_cookie.startswith("__Host-relay_console_login=")
        # The client speaks plain HTTP to the test listener and sends the cookie back anyway.
        form = {"csrf": page.csrf(), "shop": SHOP_A, "password": PASSWORD_A, "email": ""}
        assert client.post("/console/login", form).status == 303
        session = next(c for c in client.set_cookies if c.startswith("__Host-relay_console="))
        attributes = {a.strip().lower() for a in session.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= attributes
        assert not any(a.startswith("domain") for a in attributes)


def test_wrong_passwords_unknown_shops_and_users_get_one_answer(console: Console) -> None:
    answers = set()
    for shop, password, email in (
        (SHOP_A, "wrong password!", ""),
        ("no-such-shop", PASSWORD_A, ""),
        (SHOP_A, PASSWORD_A, "nobody@shop.example.com"),  # a user the shop does not have
        (SHOP_B, PASSWORD_A, ""),  # another shop's password
    ):
        client = console.client()
        reply = client.login(shop, password, email)
        assert reply.status in (403, 429)
        assert "relay_console" not in client.cookies
        if reply.status == 403:
            answers.add(reply.text.split('role="alert">')[1].split("<")[0])
    assert answers == {"Shop, E-Mail-Adresse oder Passwort stimmen nicht."}


def test_failed_log_ins_are_throttled_and_shared_with_smtp_auth(tmp_path: Path) -> None:
    with running_console(tmp_path, login_wait=1.0) as console:
        client = console.client()
        started = time.monotonic()
        for _ in range(4):  # each waits its turn: 0, 0.2, 0.4, 0.8 s after the one before
            assert client.login(SHOP_A, "wrong password!").status == 403
        assert time.monotonic() - started >= 1.4
        throttled = client.login(SHOP_A, PASSWORD_A)  # the right one, but it would wait 1.6 s
        assert throttled.status == 429 and "Sekunden" in throttled.text
        wait = int(throttled.headers["Retry-After"])
        assert wait == 2
        time.sleep(wait)
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        assert failures(console.db.read(), "127.0.0.1") == {}  # its own failures cleared
        # SMTP AUTH failures from this address count for the console: one table, one line.
        smtp = ShopAuthenticator(console.db.read, transaction_write(console.db), 0.2)
        for _ in range(4):
            wrong = LoginPassword(SHOP_B.encode(), b"wrong password!")
            assert not console.run(smtp.authenticate(("127.0.0.1", 4000), wrong, "PLAIN")).success
        blocked = console.client().login(SHOP_B, PASSWORD_B)
        assert blocked.status == 429


def test_each_failure_is_a_line_for_fail2ban(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="relay.events")
    console.client().login(SHOP_A, "wrong password!", "anna@shop.example.com")
    lines = [fields_of(r) for r in caplog.records if r.name == "relay.events"]
    failed = [f for f in lines if f.get("event") == "auth-failed"]
    assert failed and failed[-1]["client"] == "127.0.0.1"
    assert (failed[-1]["mechanism"], failed[-1]["shop"]) == (
        "CONSOLE",
        f"{SHOP_A}/anna@shop.example.com",
    )
    assert "wrong password" not in caplog.text


@pytest.mark.backends("sqlite", "postgresql")
def test_a_success_clears_only_its_own_targets_failures(console: Console) -> None:
    """Failures count per address and target (the shop name, as SMTP AUTH counts it, or the
    shop and a console user's address): logging in to one shop forgives no guesses at
    another."""
    client = console.client()
    assert client.login(SHOP_B, "wrong password!").status == 403
    assert client.login(SHOP_A, "wrong password!", "Anna@Shop.example.com").status == 403
    assert client.login(SHOP_A, PASSWORD_A).status == 303
    assert failures(console.db.read(), "127.0.0.1") == {
        SHOP_B: 1,
        f"{SHOP_A}/anna@shop.example.com": 1,
    }


@pytest.mark.backends("sqlite", "postgresql")
def test_a_copied_cookie_stops_working_after_log_out(console: Console) -> None:
    client = console.client()
    client.login(SHOP_A, PASSWORD_A)
    stolen = Client(console.base, dict(client.cookies))
    assert stolen.get("/console/orders").status == 200
    token = client.token()
    logout = client.post("/console/logout", {"csrf": token})
    assert (logout.status, logout.location) == (303, "/console/login?bye=1")
    assert "relay_console" not in client.cookies  # the browser's copy is deleted
    gone = stolen.get("/console/orders")
    assert gone.status == 303 and gone.location.startswith("/console/login")
    refused = stolen.post("/console/settings", {"csrf": token, "sender_name": "Evil"})
    assert refused.status == 403
    assert get_shop(console.db.read(), SHOP_A).sender_name == "Shop-A"


def test_forged_and_foreign_cookies_open_nothing(console: Console) -> None:
    client = console.client()
    client.login(SHOP_A, PASSWORD_A)
    value = client.cookies["relay_console"]
    secret, _, mac = value.partition(".")
    tampered = secret[:-2] + ("AA" if secret[-2:] != "AA" else "BB") + "." + mac
    for bad in (tampered, secret + ".", "x", value + "x"):
        reply = Client(console.base, {"relay_console": bad}).get("/console/")
        assert reply.status == 303 and reply.location.startswith("/console/login")


@pytest.mark.backends("sqlite", "postgresql")
@pytest.mark.parametrize("column", ["seen_at", "created_at"])
def test_idle_and_absolute_expiry_end_sessions(console: Console, column: str) -> None:
    client = console.client()
    client.login(SHOP_A, PASSWORD_A)
    assert client.get("/console/").status == 200
    back = (IDLE_SECONDS if column == "seen_at" else ABSOLUTE_SECONDS) + 5
    with console.db.transaction() as tx:
        execute(tx, f"UPDATE console_sessions SET {column} = {column} - ?", (back,))
    reply = client.get("/console/")
    assert reply.status == 303 and reply.location.startswith("/console/login")


@pytest.mark.backends("sqlite", "postgresql")
def test_console_users_log_in_and_their_removal_ends_their_sessions(console: Console) -> None:
    output = cli(console.root, "shop", "user", "add", SHOP_A, "Anna@Shop.example.com")
    password = output.split("password: ")[1].split()[0]
    client = console.client()
    assert client.login(SHOP_B, password, "anna@shop.example.com").status == 403  # shop a's user
    assert client.login(SHOP_A, password, "anna@shop.example.com").status == 303
    page = client.get("/console/")
    assert page.status == 200 and "anna@shop.example.com" in page.text
    cli(console.root, "shop", "user", "add", SHOP_A, "anna@shop.example.com", "--new-password")
    assert client.get("/console/").status == 303  # a new password ends the old sessions
    output = cli(console.root, "shop", "user", "add", SHOP_A, "bo@shop.example.com")
    again = console.client()
    again.login(SHOP_A, output.split("password: ")[1].split()[0], "bo@shop.example.com")
    assert again.get("/console/").status == 200
    cli(console.root, "shop", "user", "remove", SHOP_A, "bo@shop.example.com")
    assert again.get("/console/").status == 303


@pytest.mark.backends("sqlite", "postgresql")
def test_removing_the_shop_ends_its_sessions(console: Console) -> None:
    client = console.client()
    client.login(SHOP_B, PASSWORD_B)
    assert client.get("/console/").status == 200
    cli(console.root, "shop", "remove", SHOP_B, "--yes")
    assert client.get("/console/").status == 303
    assert client.login(SHOP_B, PASSWORD_B).status == 403


def test_forms_without_their_token_change_nothing(console: Console) -> None:
    client = console.client()
    client.login(SHOP_A, PASSWORD_A)
    other = console.client()
    other.login(SHOP_B, PASSWORD_B)
    foreign = other.token()
    change = {"sender_name": "Changed", "sender": "info@shop.example.com", "language": "de"}
    for form in (change, {**change, "csrf": "made-up"}, {**change, "csrf": foreign}):
        reply = client.post("/console/settings", form)
        assert reply.status == 403 and "nichts wurde geändert" in reply.text
    token = client.token()
    cross = client.post("/console/settings", {**change, "csrf": token},
                        headers={"Sec-Fetch-Site": "cross-site"})  # fmt: skip
    assert cross.status == 403
    assert get_shop(console.db.read(), SHOP_A).sender_name == "Shop-A"
    # A fetch() sends the token as a header (the page's <meta name="csrf-token">).
    fetched = client.post("/console/settings", change, headers={"X-CSRF-Token": token})
    assert fetched.status == 303
    assert get_shop(console.db.read(), SHOP_A).sender_name == "Changed"


def test_the_log_in_form_needs_its_own_token(console: Console) -> None:
    client = console.client()
    form = {"shop": SHOP_A, "password": PASSWORD_A, "email": ""}
    assert client.post("/console/login", form).status == 403  # no cookie, no field
    page = client.get("/console/login")
    assert client.post("/console/login", {**form, "csrf": "x" + page.csrf()}).status == 403
    assert "relay_console" not in client.cookies
    assert client.post("/console/login", {**form, "csrf": page.csrf()}).status == 303


@pytest.mark.parametrize(
    ("wanted", "lands"),
    [
        ("/console/orders?q=1001", "/console/orders?q=1001"),
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/\\evil.example", "/console/"),
        ("/u/some-token", "/console/"),
    ],
)
def test_after_log_in_the_browser_stays_on_the_console(
    console: Console, wanted: str, lands: str
) -> None:
    client = console.client()
    page = client.get("/console/login?" + urlencode({"next": wanted}))
    form = {"csrf": page.csrf(), "shop": SHOP_A, "password": PASSWORD_A, "email": ""}
    form["next"] = page.text.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
    assert client.post("/console/login", form).location == lands


def test_pages_ask_for_a_log_in_and_come_back(console: Console) -> None:
    client = console.client()
    for path in ("/console/", "/console/orders", "/console/settings", "/console/dns"):
        reply = client.get(path)
        assert reply.status == 303 and reply.location == f"/console/login?next={path}"
    assert client.post("/console/problems/1/ack", {"csrf": "x"}).status == 403
