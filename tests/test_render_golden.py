"""Golden tests of the default templates: rendered HTML and text per kind and language.

A change to a default template or the layout shows up as a diff of tests/data/render/*.html
and *.txt; `RELAY_UPDATE_GOLDENS=1 pytest tests/test_render_golden.py` rewrites them. The HTML
goldens are stored with a line break between tags, so the diff is readable.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from relay.render import (
    BUILTIN_KINDS,
    LANGUAGES,
    Design,
    default_template,
    render_message,
    sample_data,
    sample_envelope,
)

DATA = Path(__file__).parent / "data" / "render"
UPDATE = os.environ.get("RELAY_UPDATE_GOLDENS") == "1"
DATE = datetime.datetime(2025, 7, 10, 8, 30, tzinfo=datetime.UTC)
# The amounts of the sample data as each language writes them (Babel, CLDR).
AMOUNTS = {"de": "1.234,56\xa0€", "en": "€1,234.56"}
REFUND_AMOUNTS = {"de": "89,90\xa0€", "en": "€89.90"}


def golden_design() -> Design:
    return Design.create(
        header_image=(DATA / "header.png").read_bytes(),
        primary="#b4153c",
        text="#222222",
        font="Open Sans",
        footer="Müller & Söhne GmbH · Hauptstraße 1 · 10115 Berlin\nkontakt@shop.example.com",
    )


def render(kind: str, language: str):  # type: ignore[no-untyped-def]
    envelope = replace(sample_envelope(language), sender_name="Müller & Söhne", date=DATE)
    template = default_template(kind, language)
    return render_message(golden_design(), template, sample_data(kind, language), envelope)


def readable(html: str) -> str:
    return html.replace("><", ">\n<") + "\n"


def check_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.is_file(), f"{path.name} missing: run with RELAY_UPDATE_GOLDENS=1 to write it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{path.name} differs from the rendering; if the change is intended, rerun with "
        "RELAY_UPDATE_GOLDENS=1 and review the diff"
    )


CASES = [(kind, language) for kind in BUILTIN_KINDS for language in LANGUAGES]


@pytest.mark.parametrize(("kind", "language"), CASES)
def test_rendering_matches_the_golden_files(kind: str, language: str) -> None:
    rendered = render(kind, language)
    check_golden(DATA / f"{kind}.{language}.html", readable(rendered.parts.html))
    check_golden(DATA / f"{kind}.{language}.txt", rendered.parts.text)


@pytest.mark.parametrize(("kind", "language"), CASES)
def test_the_message_carries_the_design_and_the_language(kind: str, language: str) -> None:
    rendered = render(kind, language)
    message = email.message_from_bytes(rendered.message, policy=email.policy.default)

    # multipart/related holding multipart/alternative (text, html) and the header image.
    assert message.get_content_type() == "multipart/related"
    alternative, image = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    text_part, html_part = alternative.get_payload()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    assert image.get_payload(decode=True) == (DATA / "header.png").read_bytes()
    cid = image["Content-ID"].strip("<>")
    html = html_part.get_content()
    assert f'src="cid:{cid}"' in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # no remote images, fonts

    # The shop's colours and font, in the HTML that went out.
    assert "#b4153c" in html and "#222222" in html
    assert "font-family:Open Sans, Arial, Helvetica, sans-serif" in html.replace(": ", ":")

    # Amounts in the language's format, in both parts.
    amount = (REFUND_AMOUNTS if kind == "refund" else AMOUNTS)[language]
    text = text_part.get_content()
    assert amount in text
    assert amount.replace("\xa0", "&nbsp;") in html or amount in html
    assert f'lang="{language}"' in html

    # Identity and pipeline headers.
    assert message["X-Relay-Kind"] == kind
    assert message["X-Relay-Order"] == "10023"
    assert message["X-Relay-Rendered"] == rendered.template
    assert rendered.template.startswith(f"{kind}/{language} default ")
    assert message["Date"] == "Thu, 10 Jul 2025 08:30:00 +0000"


@pytest.mark.parametrize(("kind", "language"), CASES)
def test_the_wire_form_is_7bit_with_short_lines_and_encoded_headers(
    kind: str, language: str
) -> None:
    raw = render(kind, language).message
    raw.decode("ascii")  # 7-bit clean: raises on any 8-bit octet
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    assert max(len(line) for line in lines) <= 998  # RFC 5322 2.1.1
    head = raw.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n", "\n")
    # RFC 2047: the display name with umlauts goes out as an encoded word.
    assert re.search(r"^From: =\?utf-8\?[qb]\?.+\?= <info@shop\.example\.com>$", head, re.M)
    decoded = email.message_from_bytes(raw, policy=email.policy.default)
    assert decoded["From"].addresses[0].display_name == "Müller & Söhne"


def test_a_non_ascii_subject_is_encoded_and_reads_back() -> None:
    raw = render("payment-received", "de").message
    subject = next(line for line in raw.split(b"\r\n") if line.startswith(b"Subject:"))
    assert subject.startswith(b"Subject: =?utf-8?")
    decoded = email.message_from_bytes(raw, policy=email.policy.default)
    assert decoded["Subject"] == "Zahlungsbestätigung für Ihre Bestellung 10023"


def test_html_in_values_is_escaped_in_the_html_and_kept_as_text_in_the_text_part() -> None:
    data = sample_data("payment-reminder", "de")
    data["customer_name"] = '<img src=x onerror="alert(1)">Erika'
    envelope = replace(sample_envelope("de"), sender_name="<b>Shop</b>", date=DATE)
    template = default_template("payment-reminder", "de")
    parts = render_message(Design(), template, data, envelope).parts
    assert "<img src=x" not in parts.html and "<b>Shop" not in parts.html
    assert "&lt;img src=x onerror=" in parts.html and "&lt;b&gt;Shop" in parts.html
    assert '<img src=x onerror="alert(1)">Erika' in parts.text


def test_same_input_same_bytes() -> None:
    assert render("dunning", "de").message == render("dunning", "de").message
