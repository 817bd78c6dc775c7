"""Previews: the HTML file a browser opens, and the PNG a real headless Chromium draws."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from relay.preview import PreviewError, preview_html, write_preview
from relay.render import Design, default_template, render_parts, sample_data, sample_envelope
from tests.rig.tools import require

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
