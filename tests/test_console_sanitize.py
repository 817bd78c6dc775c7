"""What the console shows of a message: nh3 sanitising with an allow-list, the message's own
images only, and a document for the sandboxed frame (relay.http.console.safe_html)."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest

from relay.http.console.safe_html import safe_document, sanitize

TRAP = "http://127.0.0.1:9"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize(
    ("hostile", "gone"),
    [
        ("<script>alert(1)</script>", "alert"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ('<body onload="alert(1)">', "onload"),
        ('<a href="javascript:alert(1)">pay</a>', "javascript"),
        ('<a href="JaVaScRiPt:alert(1)">pay</a>', "javascript"),
        ('<a href="data:text/html,<script>alert(1)</script>">x</a>', "data:"),
        (f'<img src="{TRAP}/pixel.gif">', TRAP),
        ('<img src="//127.0.0.1:9/pixel.gif">', "127.0.0.1"),
        ('<img src="/console/logout">', "/console"),  # a URL that points inside
        ('<a href="/console/settings">x</a>', "/console"),
        (f'<div style="background:url({TRAP}/bg)">x</div>', TRAP),
        ('<div style="background:u\\72l(http://127.0.0.1:9/bg)">x</div>', "127.0.0.1"),
        (f'<div style="background-image:image-set(&quot;{TRAP}/a&quot; 1x)">x</div>', TRAP),
        (f'<style>@import "{TRAP}/x.css";</style>', TRAP),
        (f'<meta http-equiv="refresh" content="0;url={TRAP}/">', "refresh"),
        (f'<form action="{TRAP}/f"><input name="iban"></form>', "<form"),
        (f'<iframe src="{TRAP}/f"></iframe>', "iframe"),
        (f'<svg><image href="{TRAP}/s"/></svg>', TRAP),
        ('<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">', "svg"),
        (f'<link rel="stylesheet" href="{TRAP}/x.css">', TRAP),
        (f'<base href="{TRAP}/">', TRAP),
        (f'<object data="{TRAP}/o"></object>', TRAP),
        (f'<video poster="{TRAP}/p"></video>', TRAP),
        (f'<table background="{TRAP}/t"><tr><td>x</td></tr></table>', TRAP),
    ],
)
def test_hostile_html_is_taken_out(hostile: str, gone: str) -> None:
    cleaned = sanitize(f"<p>Guten Tag</p>{hostile}")
    assert "Guten Tag" in cleaned
    assert gone.lower() not in cleaned.lower(), cleaned


def test_what_a_mail_needs_stays() -> None:
    html = (
        '<table width="600" cellpadding="0" style="border-collapse:collapse;color:#1a56db">'
        '<tr><td align="center" style="padding:8px 4px;font-family:Arial">'
        '<a href="https://shop.example.com/pay/1001">Jetzt bezahlen</a>'
        '<a href="mailto:info@shop.example.com">Kontakt</a>'
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="Logo" width="120">'
        "</td></tr></table>"
    )
    cleaned = sanitize(html)
    for kept in ('href="https://shop.example.com/pay/1001"', 'href="mailto:info@shop.example.com"',
                 "border-collapse:collapse", "padding:8px 4px", 'src="data:image/png;base64,',
                 'rel="noopener noreferrer"', 'width="600"'):  # fmt: skip
        assert kept in cleaned, kept


def _message(html: str, image: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["Subject"] = "Zahlungserinnerung"
    message.set_content("Guten Tag (Text)")
    message.add_alternative(html, subtype="html")
    if image is not None:
        message.get_payload()[1].add_related(image, "image", "png", cid="<logo@shop.example.com>")
    return message.as_bytes()


def test_the_messages_own_images_become_data_uris_and_nothing_else_loads() -> None:
    raw = _message(
        "<html><head><title>Titel</title><style>@media (max-width:480px){td{display:block}}"
        '</style></head><body><img src="cid:logo@shop.example.com">'
        f'<img src="cid:unknown@x"><img src="{TRAP}/p.gif"><p>Guten Tag</p></body></html>',
        PNG,
    )
    document = safe_document(raw, "empty")
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in document
    assert "cid:" not in document and TRAP not in document
    assert "@media (max-width:480px)" in document  # MJML's phone layout: loads nothing
    assert "Titel" not in document  # the head is no part of the body
    assert document.startswith("<!doctype html>")


def test_a_style_block_that_could_load_goes_whole() -> None:
    raw = _message(f"<html><head><style>td{{color:red}} .x{{background:url({TRAP}/bg)}}</style>"
                   "</head><body><p>Hallo</p></body></html>")  # fmt: skip
    document = safe_document(raw, "empty")
    assert TRAP not in document and "color:red" not in document and "Hallo" in document


def test_plain_text_and_empty_messages_are_shown_as_text() -> None:
    message = EmailMessage()
    message["Subject"] = "x"
    message.set_content("Guten Tag <script>alert(1)</script>\nZeile 2")
    document = safe_document(message.as_bytes(), "empty")
    assert "Guten Tag &lt;script&gt;" in document and "<script" not in document
    assert "Der Inhalt" in safe_document(b"", "Der Inhalt wurde gelöscht")
    broken = b"Content-Type: text/html; charset=no-such-charset\r\n\r\n<p>\xff Hallo</p>"
    assert "Hallo" in safe_document(broken, "empty")
