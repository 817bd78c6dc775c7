"""The HTTP side of opt-out against a real server (start_http on 127.0.0.1, a free port).

RFC 8058: GET never opts out (§1), `List-Unsubscribe=One-Click` POST opts out at once (§3.2);
a tampered, foreign or unknown token changes nothing and gets the same 404 page.
"""

import asyncio
import http.client
import json
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from relay.http import start_http
from relay.model import OptOut, Shop
from relay.store.db import open_database
from relay.store.shops import insert_shop
from relay.store.suppression import find_optout
from relay.unsubscribe import OptOutTarget, legacy_link_token, link_token

SECRET = b"test-secret-0123456789abcdef0123"
ADDRESS = "max.mustermann@example.org"


def make_shop(name: str, sender_name: str, language: str) -> Shop:
    return Shop(
        name=name, domains=(f"{name}.example",), sender=f"info@{name}.example",
        sender_name=sender_name, language=language, password_hash="not-a-hash",
        dkim_selector="s1", dkim_private_key="dummy",
    )  # fmt: skip


def make_db(path: Path, *shops: Shop) -> Path:
    db = open_database(f"sqlite:///{path.name}", path.parent, create=True)
    with db.transaction() as tx:
        for shop in shops:
            insert_shop(tx, shop)
    db.close()
    return path


@contextmanager
def running_http(db: Path, secret: bytes = SECRET, read=None) -> Iterator[str]:
    """start_http with a Writer on `db`, in a background event loop; yields the base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="http-test-loop", daemon=True)
    thread.start()
    database = open_database(f"sqlite:///{db.name}", db.parent)
    writer = database.writer()
    writer.start()
    start = start_http("127.0.0.1", 0, read or database.read, writer.run, secret)
    try:
        runner = asyncio.run_coroutine_threadsafe(start, loop).result(timeout=10)
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        writer.stop()


def link(base: str, shop: str, kind: str = "payment-received", address: str = ADDRESS) -> str:
    return f"{base}/u/{link_token(SECRET, OptOutTarget(shop, address, kind))}"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: str


def fetch(method: str, url: str, form: dict[str, str] | None = None) -> Reply:
    """Plain http.client: no proxy settings from the environment get in the way."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = urlencode(form) if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    try:
        conn.request(method, parts.path, body=body, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read().decode())
    finally:
        conn.close()


def curl_post(url: str, *args: str) -> tuple[int, str]:
    """The RFC 8058 §3.2 request as in the issue: `curl -X POST -d 'List-Unsubscribe=One-Click'`."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    args = args or ("-d", "List-Unsubscribe=One-Click")
    command = ["curl", "-sS", "--noproxy", "*", "-w", "\n%{http_code}", "-X", "POST", *args, url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    body, _, code = out.rpartition("\n")
    return int(code), body


def optout(db: Path, shop: str, kind: str = "payment-received", address: str = ADDRESS):
    database = open_database(f"sqlite:///{db.name}", db.parent)
    try:
        return find_optout(database.read(), shop, address, kind)
    finally:
        database.close()


def optout_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM optouts").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path / "relay.db",
        make_shop("mein-shop", "Mein Shop", "de"),
        make_shop("my-shop", "My Shop", "en"),
    )


@pytest.fixture
def base(db: Path) -> Iterator[str]:
    with running_http(db) as url:
        yield url


def test_get_shows_german_page_and_does_not_opt_out(db: Path, base: str) -> None:
    reply = fetch("GET", link(base, "mein-shop"))
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert '<html lang="de">' in reply.body
    assert "Mein Shop" in reply.body and "Zahlungsbestätigungen" in reply.body
    assert "Sie erhalten dann keine" in reply.body and "Abmelden" in reply.body
    assert '<form method="post">' in reply.body and 'type="hidden"' in reply.body
    assert reply.body.count("<button") == 1
    assert ADDRESS not in reply.body and "m***@example.org" in reply.body
    assert "payment confirmations" not in reply.body
    assert fetch("HEAD", link(base, "mein-shop")).status == 200
    assert optout_count(db) == 0  # RFC 8058 §1: fetching the link must not unsubscribe


def test_get_shows_english_page_for_english_shop(db: Path, base: str) -> None:
    reply = fetch("GET", link(base, "my-shop", kind="refund"))
    assert reply.status == 200
    assert '<html lang="en">' in reply.body
    assert "My Shop" in reply.body and "refund confirmations" in reply.body
    assert "Unsubscribe" in reply.body and "Erstattung" not in reply.body
    assert optout_count(db) == 0


def test_security_headers(base: str) -> None:
    for url in (link(base, "mein-shop"), f"{base}/u/nonsense", f"{base}/healthz"):
        headers = fetch("GET", url).headers
        csp = headers["Content-Security-Policy"]
        assert csp.startswith(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"
        )
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"


def test_one_click_post_opts_out_at_once(db: Path, base: str) -> None:
    status, body = curl_post(link(base, "mein-shop"))
    assert (status, body) == (200, "")
    stored = optout(db, "mein-shop")
    assert isinstance(stored, OptOut) and stored.source == "one-click"
    assert optout(db, "mein-shop", kind="refund") is None  # one kind only
    assert optout(db, "my-shop") is None  # one shop only
    assert curl_post(link(base, "mein-shop")) == (200, "")  # a retry is harmless
    assert optout_count(db) == 1


def test_one_click_post_as_multipart(db: Path, base: str) -> None:
    # RFC 8058 §3.2: the POST SHOULD be multipart/form-data.
    assert curl_post(link(base, "my-shop"), "-F", "List-Unsubscribe=One-Click")[0] == 200
    assert optout(db, "my-shop").source == "one-click"


def test_confirm_button_opts_out_and_confirms(db: Path, base: str) -> None:
    url = link(base, "mein-shop")
    reply = fetch("POST", url, {"confirm": "yes"})
    assert reply.status == 200
    assert "Abgemeldet" in reply.body and "Mein Shop" in reply.body
    assert optout(db, "mein-shop").source == "link"
    again = fetch("GET", url)
    assert "Bereits abgemeldet" in again.body and 'name="confirm"' not in again.body
    # The one button left undoes the opt-out (tests/test_optout_design.py follows it).
    assert again.body.count("<button") == 1 and 'action="../r/' in again.body


def test_post_without_known_field_changes_nothing(db: Path, base: str) -> None:
    reply = fetch("POST", link(base, "mein-shop"), {"List-Unsubscribe": "Maybe"})
    assert reply.status == 400 and "<button" in reply.body
    assert optout_count(db) == 0


def _one_char_changes(token: str) -> Iterator[str]:
    for index, char in enumerate(token):
        if char != ".":
            yield token[:index] + ("B" if char == "A" else "A") + token[index + 1 :]
    last = token[-1]  # base64 spare bits: a different last character may decode the same
    yield token[:-1] + ("x" if last != "x" else "y")


@pytest.mark.parametrize("make", [link_token, legacy_link_token])
def test_changed_or_truncated_token_gets_404_and_changes_nothing(
    db: Path, base: str, make: Callable[[bytes, OptOutTarget], str]
) -> None:
    token = make(SECRET, OptOutTarget("mein-shop", ADDRESS, "payment-received"))
    bad = [*_one_char_changes(token), token[:-1], token[:20], token + "A", token[:-22]]
    if "." in token:
        bad.append(token.split(".")[0])
    for candidate in bad:
        status, body = curl_post(f"{base}/u/{candidate}")
        assert status == 404, candidate
        assert "Mein Shop" not in body
        assert fetch("GET", f"{base}/u/{candidate}").status == 404
    assert optout_count(db) == 0


def test_token_of_another_address_opts_out_only_that_address(db: Path, base: str) -> None:
    other = "erika@example.org"
    assert curl_post(link(base, "mein-shop", address=other))[0] == 200
    assert optout(db, "mein-shop", address=other) is not None
    assert optout(db, "mein-shop") is None
    # Another address's payload with this address's MAC (or the reverse) is nobody's token;
    # nor is half of one opaque token joined to half of another.
    mine = legacy_link_token(SECRET, OptOutTarget("mein-shop", ADDRESS, "refund"))
    theirs = legacy_link_token(SECRET, OptOutTarget("mein-shop", other, "refund"))
    new_mine = link_token(SECRET, OptOutTarget("mein-shop", ADDRESS, "refund"))
    new_theirs = link_token(SECRET, OptOutTarget("mein-shop", other, "refund"))
    half = len(new_mine) // 2
    for spliced in (
        theirs.split(".")[0] + "." + mine.split(".")[1],
        mine.split(".")[0] + "x",
        new_theirs[:half] + new_mine[half:],
    ):
        assert curl_post(f"{base}/u/{spliced}")[0] == 404
    assert optout_count(db) == 1


def test_unknown_tokens_get_one_page_that_reveals_nothing(db: Path, base: str) -> None:
    foreign = link_token(b"another-secret", OptOutTarget("mein-shop", ADDRESS, "refund"))
    no_shop = link_token(SECRET, OptOutTarget("gone-shop", ADDRESS, "refund"))
    mandatory = link_token(SECRET, OptOutTarget("mein-shop", ADDRESS, "dunning"))
    unknown_kind = link_token(SECRET, OptOutTarget("mein-shop", ADDRESS, "newsletter"))
    paths = [f"/u/{t}" for t in ("nonsense", "a.b", foreign, no_shop, mandatory, unknown_kind)]
    pages = set()
    for path in [*paths, "/u/", "/u/x/y", "/elsewhere"]:
        reply = fetch("GET", base + path)
        assert reply.status == 404, path
        pages.add(reply.body)
        assert curl_post(base + path)[0] == 404, path
    assert len(pages) == 1
    page = pages.pop()
    assert "Mein Shop" not in page and "mein-shop" not in page and "example.org" not in page
    assert "Link ungültig" in page and "Invalid link" in page
    assert optout_count(db) == 0


def test_everything_is_html_escaped(tmp_path: Path) -> None:
    db = make_db(tmp_path / "x.db", make_shop("evil", "<script>x</script> & Co", "en"))
    with running_http(db) as base:
        body = fetch("GET", link(base, "evil", address='"<b>"@example.org')).body
    assert "<script>" not in body and "<b>" not in body
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Co" in body


def test_healthz(base: str) -> None:
    reply = fetch("GET", f"{base}/healthz")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert json.loads(reply.body) == {"status": "ok", "db": True}


def test_healthz_503_when_database_read_fails(db: Path) -> None:
    def broken() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    with running_http(db, read=broken) as base:
        reply = fetch("GET", f"{base}/healthz")
    assert reply.status == 503
    assert json.loads(reply.body) == {"status": "error", "db": False}
