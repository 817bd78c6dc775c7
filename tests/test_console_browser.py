"""Issue 12 acceptance: the shop console in a real browser (Playwright driving Debian's
Chromium) against `relay serve`, with the Postfix rig as the customers' mail server.

Shop A logs in, finds order 1001, sees its payment reminder delivered and its refund not
sent (the customer opted out by the link in an earlier refund), opens the rendered mail,
switches to English; changes the primary colour, sees the preview change, saves, sends a test
e-mail and finds it at Postfix in the new colour. It cannot reach shop B's order or messages
by changing ids; a form posted without its token is refused; its cookie, copied, stops working
after log-out; a message full of hostile HTML runs and loads nothing (a local HTTP server
counts every request anything in it might make). Screenshots of the order and design pages,
desktop and phone, land in tests/artifacts/.

Skips when Chromium or Playwright is missing; fails instead when CI is set.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from relay.render import sample_data
from tests.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, require_browser
from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess, queue_id
from tests.rig import names
from tests.rig.postfix import PostfixRig
from tests.rig.tools import require

ARTIFACTS = Path(__file__).parent / "artifacts"
SHOP_B, SHOP_B_PASSWORD = "other-shop", "correct horse battery"  # add_shop's password
FROM_A, FROM_B = "info@shop.example.com", f"info@{names.BARE_SHOP_DOMAIN}"
CUSTOMER = f"erika@{names.CUSTOMER_DOMAIN}"
OPTED_OUT = f"eva@{names.CUSTOMER_DOMAIN}"
DESIGN_PROBE = f"design@{names.CUSTOMER_DOMAIN}"
NEW_PRIMARY = "#8a1538"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 375, "height": 800}


class Recorder(BaseHTTPRequestHandler):
    """Counts every request: nothing in a shown message may reach it."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def recorder() -> Iterator[str]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def hostile_html(trap: str) -> str:
    """What an attacker would put in a message: everything here runs or loads in an ordinary
    mail view. One element a line (SMTP lines stay short)."""
    lines = [
        "<html><head><title>Rechnung</title>",
        f'<meta http-equiv="refresh" content="0;url={trap}/refresh">',
        f'<link rel="stylesheet" href="{trap}/link.css">',
        f"<style>body{{background:url({trap}/style-bg)}}</style></head><body>",
        "<p>Guten Tag, Ihre Rechnung 1003.</p>",
        f"<script>fetch('{trap}/script'); parent.document.title = 'pwned';</script>",
        f'<img src="x" onerror="fetch(\'{trap}/onerror\')">',
        '<a href="javascript:alert(1)" id="js-link">Jetzt bezahlen</a>',
        f'<img src="{trap}/pixel.gif" alt="pixel">',
        f'<div style="background-image:url({trap}/inline-bg)">Hintergrund</div>',
        f'<form action="{trap}/form" method="post"><input name="iban"><button>Go</button></form>',
        f'<iframe src="{trap}/iframe"></iframe><svg><image href="{trap}/svg"/></svg>',
        "</body></html>",
    ]
    return "\r\n".join(lines)


def send_as(
    relay: RelayProcess, workdir: Path, user: str, password: str, sender: str, to: str,
    message: bytes,
) -> str:  # fmt: skip
    """swaks (STARTTLS, AUTH) with `message` as DATA; the queue id."""
    require("swaks")
    path = workdir / f"message-{time.monotonic_ns()}.eml"
    path.write_bytes(message)
    command = ["swaks", "--server", f"127.0.0.1:{relay.submission_port}", "--timeout", "30",
               "-tls", "--auth", "PLAIN", "--auth-user", user, "--auth-password", password,
               "--from", sender, "--to", to, "--data", f"@{path}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=60)
    return queue_id(done.stdout.decode("utf-8", "replace"))


def message(sender: str, to: str, headers: list[str], body: str, content_type: str) -> bytes:
    head = [f"From: {sender}", f"To: {to}", *headers, f"Content-Type: {content_type}",
            "Content-Transfer-Encoding: 8bit"]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode()


def reminder(to: str, order: str) -> bytes:
    data = {"data": sample_data("payment-reminder", "de"), "language": "de"}
    return message(FROM_A, to, ["X-Relay-Template: payment-reminder", f"X-Relay-Order: {order}"],
                   json.dumps(data, ensure_ascii=False), "application/json")  # fmt: skip


def refund(to: str, order: str) -> bytes:
    data = {"data": sample_data("refund", "de"), "language": "de"}
    return message(FROM_A, to, ["X-Relay-Template: refund", f"X-Relay-Order: {order}"],
                   json.dumps(data, ensure_ascii=False), "application/json")  # fmt: skip


def opt_out_by_link(received: bytes) -> None:
    """The customer's one-click unsubscribe (RFC 8058) of a delivered optional message."""
    header = email.message_from_bytes(received)["List-Unsubscribe"] or ""
    url = re.search(r"<(http[^>]+)>", header).group(1)
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as answer:
        assert answer.status == 200


def html_part(raw: bytes) -> str:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("html",))
    assert body is not None, "no HTML part"
    return body.get_content()


def test_the_shop_console_in_a_browser(
    relay: RelayProcess, postfix: PostfixRig, tmp_path: Path
) -> None:
    require_browser()
    relay.add_shop(SHOP_B, domain=names.BARE_SHOP_DOMAIN, language="en")
    send_as(relay, tmp_path, SHOP, SHOP_PASSWORD, FROM_A, OPTED_OUT, refund(OPTED_OUT, "1000"))
    relay.wait_state(OPTED_OUT, {"delivered"})
    opt_out_by_link(postfix.wait_for_messages(OPTED_OUT)[0])
    send_as(relay, tmp_path, SHOP, SHOP_PASSWORD, FROM_A, CUSTOMER, reminder(CUSTOMER, "1001"))
    send_as(relay, tmp_path, SHOP, SHOP_PASSWORD, FROM_A, OPTED_OUT, refund(OPTED_OUT, "1001"))
    foreign = send_as(relay, tmp_path, SHOP_B, SHOP_B_PASSWORD, FROM_B, CUSTOMER, message(
        FROM_B, CUSTOMER, ["X-Relay-Kind: dunning", "X-Relay-Order: 2002", "Subject: Mahnung"],
        "Bitte zahlen Sie.", "text/plain; charset=utf-8"))  # fmt: skip
    relay.wait_state(CUSTOMER, {"delivered"}, count=2)
    with recorder() as trap:
        hostile = send_as(relay, tmp_path, SHOP, SHOP_PASSWORD, FROM_A, CUSTOMER, message(
            FROM_A, CUSTOMER, ["X-Relay-Kind: payment-info", "X-Relay-Order: 1003",
                               "Subject: Ihre Rechnung"],
            hostile_html(trap), "text/html; charset=utf-8"))  # fmt: skip
        with browser() as (context, watch):
            page = context.new_page()
            base = f"http://127.0.0.1:{relay.http_port}"
            _log_in(page, base)
            _order_1001(page, base)
            _design_and_test_email(page, base, relay, postfix)
            _isolation_and_csrf(page, base, foreign)
            _hostile_message(page, base, hostile, watch, trap)
            _stolen_cookie(context, page, base)
        assert Recorder.seen == [], f"the message made requests: {Recorder.seen}"


@contextmanager
def browser() -> Iterator[tuple[Any, dict[str, list[str]]]]:
    from playwright.sync_api import sync_playwright

    watch: dict[str, list[str]] = {"requests": [], "console": [], "errors": []}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            timeout=TIMEOUT_MS, viewport=DESKTOP, locale="de-DE",
        )  # fmt: skip
        context.set_default_timeout(TIMEOUT_MS)
        context.on("request", lambda r: watch["requests"].append(r.url))
        context.on("console", lambda m: watch["console"].append(f"{m.type}: {m.text}"))
        context.on("weberror", lambda e: watch["errors"].append(str(e.error)))
        try:
            yield context, watch
        finally:
            context.close()


def _log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/console/orders")
    assert "/console/login" in page.url
    page.fill("#shop", SHOP)
    page.fill("#password", SHOP_PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit] >> text=Anmelden")
    assert page.url.endswith("/console/orders")


def _order_1001(page: Any, base: str) -> None:
    page.fill("#q", "1001")
    with page.expect_navigation():
        page.click("form[role=search] button")
    with page.expect_navigation():
        page.click("a[href='/console/orders/1001']")
    text = page.inner_text("main")
    reminder_card = page.locator("article", has_text="Zahlungserinnerung")
    assert "zugestellt" in reminder_card.inner_text()
    refund_card = page.locator("article", has_text="Erstattungsbestätigung")
    assert re.search(r"nicht gesendet: der Kunde hat sich am \S+ von Erstattungsbestätigungen"
                     r" abgemeldet", refund_card.inner_text()), text  # fmt: skip
    _screenshots(page, "console-order")
    with page.expect_navigation():
        reminder_card.locator("a", has_text="E-Mail ansehen").click()
    mail = page.frame_locator("iframe.mail")
    mail.locator("text=Erika Mustermann").first.wait_for()
    assert "1.234,56" in mail.locator("body").inner_text()  # the rendered reminder's amount
    page.go_back()
    with page.expect_navigation():
        page.click("a[hreflang=en]")
    english = page.inner_text("main")
    assert "Order 1001" in english and "Payment reminder" in english
    assert "delivered" in page.locator("article", has_text="Payment reminder").inner_text()
    assert re.search(r"not sent: customer opted out of refund confirmations on", english)


def _design_and_test_email(page: Any, base: str, relay: RelayProcess, postfix: PostfixRig) -> None:
    page.goto(f"{base}/console/design?lang=de")
    page.frame_locator("#preview").locator("body").wait_for()
    _screenshots(page, "console-design")
    before = page.locator("#preview").get_attribute("src")
    page.fill("#primary", NEW_PRIMARY)
    page.wait_for_function(
        "(old) => document.getElementById('preview').src !== old && "
        "document.getElementById('preview').src.includes('8a1538')", arg=before,
    )  # fmt: skip
    page.wait_for_timeout(500)
    frame = next(f for f in page.frames if "/console/design/preview" in f.url and "8a1538" in f.url)
    frame.wait_for_load_state()
    assert NEW_PRIMARY in frame.content().lower()  # the preview is in the new colour
    with page.expect_navigation():
        page.click("button >> text=Design speichern")
    assert "Design gespeichert." in page.inner_text("main")
    page.fill("#test-to", DESIGN_PROBE)
    with page.expect_navigation():
        page.click("button >> text=Test-E-Mail senden")
    assert f"Test-E-Mail an {DESIGN_PROBE} eingereiht" in page.inner_text("main")
    received = postfix.wait_for_messages(DESIGN_PROBE, timeout=60)[0]
    assert NEW_PRIMARY in html_part(received).lower()
    assert relay.recipients(to=DESIGN_PROBE)[0]["test"] is True


def _isolation_and_csrf(page: Any, base: str, foreign: str) -> None:
    for path in ("/console/orders/2002", f"/console/messages/{foreign}",
                 f"/console/messages/{foreign}/view"):  # fmt: skip
        response = page.goto(base + path)
        assert response.status == 404, path
        assert "Nicht gefunden" in page.inner_text("main")
    page.goto(f"{base}/console/settings")
    status = page.evaluate(
        "() => fetch('/console/settings', {method: 'POST', body: new URLSearchParams("
        "{sender_name: 'Hijacked', sender: 'info@shop.example.com', language: 'de'})})"
        ".then(r => r.status)"
    )
    assert status == 403
    page.evaluate("() => document.querySelector('main form input[name=csrf]').remove()")
    page.fill("#sender_name", "Hijacked")
    with page.expect_navigation() as navigation:
        page.click("button >> text=Einstellungen speichern")
    assert navigation.value.status == 403
    page.goto(f"{base}/console/settings")
    assert page.input_value("#sender_name") == "Mein Shop"


def _hostile_message(page: Any, base: str, hostile: str, watch: dict, trap: str) -> None:
    watch["console"].clear()
    watch["errors"].clear()
    page.goto(f"{base}/console/messages/{hostile}")
    mail = page.frame_locator("iframe.mail")
    mail.locator("text=Guten Tag, Ihre Rechnung 1003.").wait_for()
    page.wait_for_timeout(1500)  # time for anything that would load or run
    assert any(u.endswith(f"/{hostile}/view") for u in watch["requests"])  # the watch works
    assert page.title() != "pwned"
    assert not [u for u in watch["requests"] if u.startswith(trap)]
    assert watch["console"] == [] and watch["errors"] == [], watch
    frame = next(f for f in page.frames if f.url.endswith(f"/{hostile}/view"))
    html = frame.content().lower()
    for gone in ("<script", "onerror", "javascript:", trap, "<form", "<iframe", "<svg"):
        assert gone not in html, gone


def _stolen_cookie(context: Any, page: Any, base: str) -> None:
    stolen = [c for c in context.cookies() if c["name"] == "relay_console"]
    assert stolen and stolen[0]["httpOnly"] and stolen[0]["sameSite"] == "Lax"
    page.goto(f"{base}/console/")
    with page.expect_navigation():
        page.click("header button >> text=Abmelden")
    assert "/console/login" in page.url
    context.clear_cookies()
    context.add_cookies(stolen)
    page.goto(f"{base}/console/orders")
    assert "/console/login" in page.url  # the copy opens nothing any more


def _screenshots(page: Any, name: str) -> None:
    """The whole page at each width. The viewport is made as tall as the page: Chromium paints
    a sandboxed (out-of-process) frame only where the viewport is, so a full-page shot of a
    short viewport would show the frames blank below the fold."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": min(height, 4000)})
        page.wait_for_timeout(800)
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], label
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"))
    page.set_viewport_size(DESKTOP)
