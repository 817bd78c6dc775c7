"""Previews: the HTML file a browser opens, and the PNG a real headless Chromium draws."""

from __future__ import annotations

import http.server
import io
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from relay.preview import PreviewError, preview_html, screenshot, write_preview
from relay.render import (
    Design,
    RenderError,
    TemplateSource,
    check_template,
    default_template,
    render_parts,
    sample_data,
    sample_envelope,
)
from tests.rig.tools import free_port, require

HEADER = Path(__file__).parent / "data" / "render" / "header.png"
PRIMARY = (0xB4, 0x15, 0x3C)
YELLOW = (0xF5, 0xC5, 0x18)  # the block inside the header image
GREEN = (0x0B, 0x3D, 0x2E)  # the header image's background


def parts(kind: str = "payment-reminder", language: str = "de"):  # type: ignore[no-untyped-def]
    design = Design.create(header_image=HEADER.read_bytes(), primary="#b4153c", text="#222222")
    return render_parts(design, default_template(kind, language), sample_data(kind, language),
                        sample_envelope(language))  # fmt: skip


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def test_html_preview_inlines_the_header_image_as_a_data_uri(tmp_path: Path) -> None:
    rendered = parts()
    out = write_preview(rendered, tmp_path / "preview.html")
    html = out.read_text()
    assert "cid:" not in html
    assert 'src="data:image/png;base64,' in html
    assert html == preview_html(rendered)


@pytest.mark.parametrize(
    ("width", "yellow_at", "green_at"),
    [(600, (100, 60), (400, 60)), (375, (60, 35), (300, 35))],
)
def test_png_preview_shows_the_header_image_and_the_primary_colour(
    tmp_path: Path, width: int, yellow_at: tuple[int, int], green_at: tuple[int, int]
) -> None:
    require("chromium")
    out = write_preview(parts(), tmp_path / "preview.png", width=width)
    with Image.open(out) as image:
        assert image.format == "PNG"
        shot = image.convert("RGB")
    assert shot.width == width
    assert shot.height > 600, "the whole mail, not just the header"
    assert near(shot.getpixel(yellow_at), YELLOW), shot.getpixel(yellow_at)
    assert near(shot.getpixel(green_at), GREEN), shot.getpixel(green_at)
    # The rule under the header and the pay button are drawn in the primary colour.
    colours = shot.getcolors(maxcolors=shot.width * shot.height) or []
    primary = sum(count for count, colour in colours if near(colour, PRIMARY))
    assert primary > 3000, f"only {primary} pixels in the primary colour"
    # On a phone the columns stack: the mail is taller than on a desktop.
    if width == 375:
        desktop = Image.open(io.BytesIO(write_preview(parts(), tmp_path / "d.png").read_bytes()))
        assert shot.height > desktop.height


def test_a_missing_chromium_is_a_clear_error_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(PreviewError, match=r"install the Debian package chromium"):
        write_preview(parts(), tmp_path / "preview.png")
    assert not (tmp_path / "preview.png").exists()


def test_unknown_width_and_suffix_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PreviewError, match="width 800 is not one of 600, 375"):
        write_preview(parts(), tmp_path / "p.png", width=800)
    with pytest.raises(PreviewError, match=r"\.html or \.png"):
        write_preview(parts(), tmp_path / "p.pdf")


# --- a hostile shop template: nothing local is drawn, nothing is fetched -------------------------

RED = (255, 0, 0)


def hostile_template(local_png: Path, url: str) -> TemplateSource:
    """What a shop could store before check_template refused raw HTML: an image from the
    relay's disk, a frame of another local file, a request into the host's network."""
    html = (
        '{% extends "layout.mjml" %}{% block content %}'
        f'<mj-raw><img src="{local_png.as_uri()}" width="600" height="300">'
        f'<iframe src="{local_png.as_uri()}" width="600" height="300"></iframe>'
        f'<img src="{url}" width="1" height="1">'
        f'<meta http-equiv="refresh" content="0; url={local_png.as_uri()}"></mj-raw>'
        "<mj-text>{{ amount | money }}</mj-text>{% endblock %}"
    )
    text = '{% extends "layout.txt" %}{% block content %}{{ amount | money }}{% endblock %}\n'
    return TemplateSource("refund", "de", "Erstattung {{ order }}", html, text, "shop")


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_stored_hostile_template_neither_draws_local_files_nor_fetches_urls(
    tmp_path: Path,
) -> None:
    """Chromium drew a local file into the PNG and called a local HTTP server (found live);
    the CSP, the blocked network and the removed refresh stop it for templates stored before
    check_template refused them."""
    require("chromium")
    local_png = tmp_path / "not-for-the-shop.png"
    Image.new("RGB", (600, 300), RED).save(local_png)
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        template = hostile_template(local_png, f"http://127.0.0.1:{port}/called-out")
        parts = render_parts(Design(), template, sample_data("refund", "de"), sample_envelope("de"))
        with Image.open(io.BytesIO(screenshot(preview_html(parts)))) as shot:
            colours = shot.convert("RGB").getcolors(maxcolors=10_000_000) or []
    finally:
        server.shutdown()
    red = sum(count for count, colour in colours if colour == RED)
    found = f"fetched {_Counter.hits}; {red} pixels of a local file drawn into the picture"
    assert not _Counter.hits and red < 1000, found
    assert len(colours) > 3, "the mail itself was drawn too"


def test_check_template_refuses_raw_html_and_references_that_are_not_https(
    tmp_path: Path,
) -> None:
    template = hostile_template(tmp_path / "x.png", "http://127.0.0.1:9/")
    with pytest.raises(RenderError, match="<mj-raw> is not allowed"):
        check_template(template)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('<mj-image src="file:///etc/passwd" />', "src 'file:///etc/passwd'"),
        ('<mj-image src="http://169.254.169.254/latest" />', "src 'http://169.254.169.254"),
        ('<mj-button href="javascript:alert(1)">x</mj-button>', "href 'javascript:alert(1)'"),
        ('<mj-section background-url="file:///etc/hosts"></mj-section>', "background-url 'file:"),
        (
            '<mj-section><mj-column><mj-text><p style="background:url('
            'file:///etc/hosts)">x</p></mj-text></mj-column></mj-section>',
            "url( 'file:",
        ),
        ("<mj-text><iframe src=https://example.com></iframe></mj-text>", "<iframe> is not"),
        ("<mj-text><script>alert(1)</script></mj-text>", "<script> is not"),
        ("<mj-text><object data=x></object></mj-text>", "<object> is not"),
    ],
)
def test_each_way_to_point_outside_is_refused_with_its_line(content: str, words: str) -> None:
    html = '{% extends "layout.mjml" %}{% block content %}\n' + content + "\n{% endblock %}"
    text = '{% extends "layout.txt" %}{% block content %}{{ amount | money }}{% endblock %}\n'
    template = TemplateSource("refund", "de", "Erstattung {{ order }}", html, text, "shop")
    with pytest.raises(RenderError) as refused:
        check_template(template)
    assert words in str(refused.value) and refused.value.line == 2, str(refused.value)


def test_https_links_images_and_data_values_still_pass() -> None:
    html = (
        '{% extends "layout.mjml" %}{% block content %}'
        '<mj-image src="https://shop.example.com/logo.png" />'
        '<mj-button href="{{ payment_link }}">Zahlen</mj-button>'
        '<mj-text><a href="https://shop.example.com/agb">AGB</a> '
        '<a href="mailto:info@shop.example.com">Mail</a></mj-text>{% endblock %}'
    )
    text = '{% extends "layout.txt" %}{% block content %}{{ amount | money }}{% endblock %}\n'
    check_template(TemplateSource("payment-reminder", "de", "Zahlung", html, text, "shop"))
