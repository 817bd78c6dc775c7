"""The opt-out pages in the shop's design, the 30-day re-subscribe link, and opaque link tokens
(issue 13 item 8): a real aiohttp server on loopback over a real SQLite store, and headless
Chromium (Playwright) for what a customer sees and clicks."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from relay.actions import design as design_actions
from relay.store.db import open_database
from relay.store.shops import get_shop
from relay.unsubscribe import (
    OptOutTarget,
    legacy_link_token,
    link_token,
    read_link_token,
    resubscribe_token,
)
from tests.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, require_browser
from tests.rig.tools import wait_until
from tests.test_http_optout import (
    ADDRESS,
    SECRET,
    curl_post,
    fetch,
    link,
    make_db,
    make_shop,
    optout,
    running_http,
)

HEADER = Path(__file__).parent / "data" / "render" / "header.png"
PRIMARY = (0xB4, 0x15, 0x3C)
YELLOW = (0xF5, 0xC5, 0x18)  # the block inside the header image
GREEN = (0x0B, 0x3D, 0x2E)  # the header image's background
TARGET = OptOutTarget("mein-shop", ADDRESS, "payment-received")
DAY = 86400.0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = make_db(tmp_path / "relay.db", make_shop("mein-shop", "Möbel Müller", "de"))
    database = open_database(f"sqlite:///{path.name}", path.parent)
    shop = get_shop(database.read(), "mein-shop")
    assert shop is not None
    change = design_actions.plan_design(
        database.read(),
        shop,
        {"header_image": HEADER.read_bytes(), "primary": "#b4153c", "font": "Open Sans",
         "footer": "Möbel Müller GmbH\nHauptstraße 1, 10115 Berlin"},
    )  # fmt: skip
    with database.transaction() as tx:
        design_actions.save(tx, "mein-shop", change)
    database.close()
    return path


@pytest.fixture
def base(db: Path):  # type: ignore[no-untyped-def]
    with running_http(db) as url:
        yield url


def events(db: Path, kind: str) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        found = conn.execute("SELECT detail FROM events WHERE kind = ? ORDER BY id", (kind,))
        return [json.loads(detail) for (detail,) in found]
    finally:
        conn.close()


def age_optout(db: Path, days: float) -> float:
    """Move the stored opt-out `days` into the past; its new time."""
    when = time.time() - days * DAY
    conn = sqlite3.connect(db)
    conn.execute("UPDATE optouts SET created_at = ?", (when,))
    conn.commit()
    conn.close()
    return when


def undo_action(page: str) -> str:
    found = re.search(r'<form method="post" action="\.\./r/([^"]+)">', page)
    assert found, page
    return found.group(1)


def test_the_pages_wear_the_shops_design(base: str) -> None:
    reply = fetch("GET", link(base, "mein-shop"))
    page = reply.body
    image = base64.b64encode(HEADER.read_bytes()).decode()
    assert f'<img src="data:image/png;base64,{image}" alt="Möbel Müller">' in page
    assert "background:#b4153c" in page and "font:16px/1.5 Open Sans, Arial" in page
    assert "Möbel Müller GmbH<br>Hauptstraße 1, 10115 Berlin" in page
    assert "img-src data:" in reply.headers["Content-Security-Policy"]


def test_the_confirmation_offers_to_undo_and_the_undo_is_recorded(db: Path, base: str) -> None:
    done = fetch("POST", link(base, "mein-shop"), {"confirm": "yes"})
    assert "Abgemeldet" in done.body and "Abmeldung rückgängig machen" in done.body
    until = time.gmtime(time.time() + 30 * DAY)
    assert f"Bis zum {until.tm_mday}. " in done.body  # '15. Juli 2025': 30 days on
    token = undo_action(done.body)
    made = optout(db, "mein-shop")
    assert made is not None
    shown = fetch("GET", f"{base}/r/{token}")  # a GET changes nothing (scanners fetch links)
    assert shown.status == 200 and "Wieder anmelden" in shown.body
    assert optout(db, "mein-shop") is not None
    again = fetch("POST", f"{base}/r/{token}")
    assert again.status == 200 and "Wieder angemeldet" in again.body
    assert optout(db, "mein-shop") is None
    assert events(db, "resubscribed") == [
        {"address": ADDRESS, "kind": "payment-received", "source": "link",
         "opted_out_at": made.created_at}
    ]  # fmt: skip
    assert fetch("POST", f"{base}/r/{token}").status == 200  # a second click: no change
    assert len(events(db, "resubscribed")) == 1


def test_the_undo_link_works_30_days_then_only_an_admin_can(db: Path, base: str) -> None:
    assert curl_post(link(base, "mein-shop"))[0] == 200  # the one-click POST: no page
    when = age_optout(db, 29.9)
    page = fetch("GET", link(base, "mein-shop")).body  # opened again: the offer is there
    assert "Bereits abgemeldet" in page and "Abmeldung rückgängig machen" in page
    when = age_optout(db, 30.1)
    assert "Abmeldung rückgängig machen" not in fetch("GET", link(base, "mein-shop")).body
    token = resubscribe_token(SECRET, TARGET, when)
    for method in ("GET", "POST"):
        expired = fetch(method, f"{base}/r/{token}")
        assert expired.status == 410 and "Link abgelaufen" in expired.body
        assert "wenden Sie sich bitte an <strong>Möbel Müller</strong>" in expired.body
    assert optout(db, "mein-shop") is not None and events(db, "resubscribed") == []


def test_an_old_undo_link_never_undoes_a_newer_opt_out(db: Path, base: str) -> None:
    first = undo_action(fetch("POST", link(base, "mein-shop"), {"confirm": "yes"}).body)
    assert fetch("POST", f"{base}/r/{first}").status == 200
    assert optout(db, "mein-shop") is None
    time.sleep(0.01)
    second = undo_action(fetch("POST", link(base, "mein-shop"), {"confirm": "yes"}).body)
    assert second != first
    stale = fetch("POST", f"{base}/r/{first}")
    assert "Bereits abgemeldet" in stale.body  # the newer opt-out stands, with its own offer
    assert optout(db, "mein-shop") is not None and len(events(db, "resubscribed")) == 1


def test_forged_and_swapped_tokens_get_the_404_page(db: Path, base: str) -> None:
    optout_token = link(base, "mein-shop").rsplit("/", 1)[1]
    fetch("POST", link(base, "mein-shop"), {"confirm": "yes"})
    made = optout(db, "mein-shop")
    assert made is not None
    undo = resubscribe_token(SECRET, TARGET, made.created_at)
    eva = OptOutTarget("mein-shop", "eva@example.org", "payment-received")
    other = resubscribe_token(SECRET, eva, made.created_at)
    for path in (
        f"/r/{optout_token}",  # an opt-out token is no re-subscribe token, nor the reverse
        f"/u/{undo}",
        f"/r/{undo[:-1]}B" if undo[-1] != "B" else f"/r/{undo[:-1]}C",
        f"/r/{resubscribe_token(b'another-secret', TARGET, made.created_at)}",
        f"/r/{resubscribe_token(SECRET, OptOutTarget('mein-shop', ADDRESS, 'dunning'), 1.0)}",
    ):
        assert fetch("POST", base + path).status == 404, path
    assert fetch("POST", f"{base}/r/{other}").status == 200  # someone else's: not ours
    assert optout(db, "mein-shop") is not None


def test_link_tokens_hide_the_address_and_old_links_still_work(db: Path, base: str) -> None:
    token = link_token(SECRET, TARGET)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert ADDRESS.encode() not in raw and b"mein-shop" not in raw
    assert read_link_token(SECRET, token) == TARGET and "." not in token
    legacy = legacy_link_token(SECRET, TARGET)  # the readable form of links already sent
    assert ADDRESS.encode() in base64.urlsafe_b64decode(legacy.split(".")[0] + "==")
    assert curl_post(f"{base}/u/{legacy}") == (200, "")
    stored = optout(db, "mein-shop")
    assert stored is not None and stored.source == "one-click"


def test_the_access_log_names_no_token(base: str, caplog: pytest.LogCaptureFixture) -> None:
    undo = resubscribe_token(SECRET, TARGET, time.time())
    with caplog.at_level(logging.INFO, logger="relay.http.access"):
        fetch("GET", link(base, "mein-shop"))
        fetch("GET", f"{base}/r/{undo}")
        fetch("GET", f"{base}/healthz")  # logged after its answer: wait for the lines before

        def lines() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.name == "relay.http.access"]

        wait_until(lambda: any("/healthz" in line for line in lines()), 5, "the access log")
    lines = lines()
    assert any("/u/<token>" in line for line in lines) and any(
        "/r/<token>" in line for line in lines
    )
    assert not any(link_token(SECRET, TARGET) in line or undo in line for line in lines)


def test_a_customer_opts_out_and_undoes_it_in_a_browser(db: Path, base: str) -> None:
    require_browser()
    from playwright.sync_api import sync_playwright

    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            timeout=TIMEOUT_MS, viewport={"width": 420, "height": 900},
        )  # fmt: skip
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(link(base, "mein-shop"), wait_until="load")
            shot = page.screenshot(path=str(artifacts / "optout-design.png"), full_page=True)
            with page.expect_navigation(wait_until="load"):
                page.click("form[method=post] button[type=submit]")
            assert "Abgemeldet" in page.inner_text("h1")
            assert optout(db, "mein-shop") is not None
            page.screenshot(path=str(artifacts / "optout-design-done.png"), full_page=True)
            with page.expect_navigation(wait_until="load"):
                page.click("button.secondary")  # Abmeldung rückgängig machen
            assert page.inner_text("h1") == "Wieder angemeldet"
            assert "/r/" in page.url
        finally:
            context.close()
    assert optout(db, "mein-shop") is None
    with Image.open(io.BytesIO(shot)) as image:
        drawn = image.convert("RGB")
    colours = drawn.getcolors(maxcolors=drawn.width * drawn.height) or []

    def count(colour: tuple[int, int, int]) -> int:
        return sum(
            n for n, c in colours if all(abs(a - b) <= 6 for a, b in zip(c, colour, strict=True))
        )

    # The header image (its green and yellow) and the primary colour (rule, heading, button).
    assert count(GREEN) > 10_000 and count(YELLOW) > 3_000, (count(GREEN), count(YELLOW))
    assert count(PRIMARY) > 5_000, count(PRIMARY)
