"""The MIME form of rendered mail, and X-Relay-Layout: shop (a shop's own HTML in its design)."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from pathlib import Path

import pytest

from relay.render import (
    Design,
    RenderError,
    default_template,
    render_message,
    render_shop_layout,
    sample_data,
    sample_envelope,
)

HEADER = Path(__file__).parent / "data" / "render" / "header.png"
SHOP_HTML = """<!doctype html><html><head><title>x</title>
<style>.total { color: #0a7f3f; font-weight: bold }</style>
<script>alert(1)</script></head>
<body><h1>Ihre Rechnung</h1><p class="total">Summe: 19,99 €</p></body></html>"""


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_without_a_header_image_the_message_is_multipart_alternative() -> None:
    kind = "refund"
    rendered = render_message(
        Design(), default_template(kind, "en"), sample_data(kind, "en"), sample_envelope("en")
    )
    message = parse(rendered.message)
    assert message.get_content_type() == "multipart/alternative"
    assert "cid:" not in rendered.parts.html
    assert "Example Shop</div>" in rendered.parts.html  # the shop's name as the heading
    # Without a date, the Date header is now, in UTC written +0000 (RFC 5322 3.3).
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", message["Date"])
    assert message["MIME-Version"] == "1.0"
    assert all(part["MIME-Version"] is None for part in message.iter_parts())


def test_a_very_long_value_still_gives_lines_under_998_octets() -> None:
    data = sample_data("payment-info", "de")
    data["payment_link"] = "https://shop.example.com/pay/" + "a" * 1900
    rendered = render_message(
        Design(), default_template("payment-info", "de"), data, sample_envelope("de")
    )
    assert max(len(line) for line in rendered.message.split(b"\r\n")) <= 998
    assert data["payment_link"] in rendered.parts.text  # not broken inside the link
    html = parse(rendered.message).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f'href="{data["payment_link"]}"' in html


def test_a_shop_html_body_is_wrapped_in_the_shop_design() -> None:
    design = Design.create(header_image=HEADER.read_bytes(), primary="#b4153c", font="Inter")
    envelope = replace(sample_envelope("de"), order="10023")
    rendered = render_shop_layout(
        design, SHOP_HTML, None, "Ihre Rechnung 10023 – Größe M", "payment-info", "de", envelope
    )
    html = rendered.parts.html
    assert "<h1>Ihre Rechnung</h1>" in html
    assert re.search(r'<p class="total" style="color: ?#0a7f3f; ?font-weight: ?bold;?">', html)
    assert "<script>" not in html and "alert(1)" not in html
    assert "cid:" + (rendered.parts.content_id or "?") in html
    assert "Inter, Arial" in html and "#b4153c" in html
    # No text part from the shop: made from its HTML by a maintained converter (inscriptis).
    assert "Ihre Rechnung" in rendered.parts.text and "Summe: 19,99 €" in rendered.parts.text
    message = parse(rendered.message)
    assert message.get_content_type() == "multipart/related"
    assert message["Subject"] == "Ihre Rechnung 10023 – Größe M"
    assert message["X-Relay-Rendered"] == "shop-layout/de default"
    assert message["X-Relay-Kind"] == "payment-info"


def test_a_shop_text_part_is_kept_as_written() -> None:
    rendered = render_shop_layout(
        Design(footer="Shop GmbH"), SHOP_HTML, "Summe 19,99 €\n", "S", "refund", "en",
        sample_envelope("en"),
    )  # fmt: skip
    assert rendered.parts.text == "Summe 19,99 €\n\n-- \nShop GmbH\n"


@pytest.mark.parametrize("html", ["", "   ", "x" * (1024 * 1024 + 1)])
def test_an_empty_or_huge_shop_body_is_refused(html: str) -> None:
    with pytest.raises(RenderError, match="shop"):
        render_shop_layout(Design(), html, None, "S", "refund", "de", sample_envelope("de"))


def test_an_empty_subject_is_refused() -> None:
    with pytest.raises(RenderError, match="the subject is empty"):
        render_shop_layout(
            Design(), SHOP_HTML, None, " \r\n", "refund", "de", sample_envelope("de")
        )
