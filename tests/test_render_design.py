"""Design validation: every bad value is refused with a message that says what is wrong."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from relay.render import Design, RenderError, read_header_image
from relay.render.colours import contrast_ratio

HEADER = Path(__file__).parent / "data" / "render" / "header.png"


def jpeg(width: int = 300, height: int = 80) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "#204060").save(out, format="JPEG", quality=80)
    return out.getvalue()


def test_png_and_jpeg_are_read_from_their_content() -> None:
    png = read_header_image(HEADER.read_bytes())
    assert (png.mime_type, png.width, png.height) == ("image/png", 600, 120)
    assert read_header_image(jpeg()).mime_type == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\x00" * 100, "not a readable PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a readable PNG or JPEG"),
        (b"%PDF-1.7 pretending", "not a readable PNG or JPEG"),
        (HEADER.read_bytes()[:60], "not a readable PNG or JPEG"),  # truncated
    ],
)
def test_an_image_that_is_not_a_png_or_jpeg_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(RenderError) as refused:
        Design.create(header_image=data)
    assert words in str(refused.value)
    assert refused.value.variable == "header_image"


def test_a_gif_named_png_is_refused_by_content() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(RenderError, match="not a readable PNG or JPEG") as refused:
        read_header_image(out.getvalue())
    assert "BytesIO" not in str(refused.value)  # Pillow's words name an object, not the file


def test_an_image_over_200_kb_is_refused_with_its_size() -> None:
    noise = Image.frombytes("RGB", (400, 300), bytes(range(256)) * 1407)
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=0)
    assert len(out.getvalue()) > 200 * 1024
    with pytest.raises(RenderError, match=r"has \d+ KB; at most 200 KB"):
        Design.create(header_image=out.getvalue())


@pytest.mark.parametrize("value", ["red", "#12345", "#ggg", "rgb(0,0,0)", "#1234567", ""])
def test_an_unreadable_colour_is_refused(value: str) -> None:
    with pytest.raises(RenderError, match="is not a hex colour; write it as #RRGGBB") as refused:
        Design.create(primary=value)
    assert refused.value.variable == "primary"


def test_colours_are_normalised() -> None:
    design = Design.create(primary="#A0C", text="1F2937")
    assert (design.primary, design.text) == ("#aa00cc", "#1f2937")


def test_low_contrast_text_is_refused_with_the_ratio_found_and_needed() -> None:
    with pytest.raises(RenderError) as refused:
        Design.create(text="#999999")
    message = str(refused.value)
    assert "#999999 on #ffffff has a contrast ratio of 2.84:1" in message
    assert "WCAG AA needs at least 4.5:1" in message
    assert refused.value.variable == "text"


def test_a_light_primary_colour_is_refused() -> None:
    # Yellow buttons with white labels (and yellow links on white) cannot be read.
    with pytest.raises(RenderError, match=r"primary colour: #f5c518 on #ffffff .* 1\.\d\d:1"):
        Design.create(primary="#f5c518")


def test_a_pair_just_under_the_bound_is_refused_and_just_over_passes() -> None:
    assert 4.4 < contrast_ratio("#787878", "#ffffff") < 4.5
    with pytest.raises(RenderError, match=r"4\.4\d:1"):
        Design.create(text="#787878")
    assert contrast_ratio("#767676", "#ffffff") >= 4.5
    Design.create(text="#767676")


def test_dark_background_with_light_text_passes() -> None:
    Design.create(background="#111827", text="#f9fafb", primary="#93c5fd")


def test_wcag_reference_ratios() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_web_safe_fallbacks_are_always_appended() -> None:
    assert Design.create(font="Open Sans").font == "Open Sans, Arial, Helvetica, sans-serif"
    assert Design.create(font="").font == "Arial, Helvetica, sans-serif"
    assert Design.create(font="Helvetica, sans-serif").font == "Helvetica, Arial, sans-serif"
    assert Design.create(font="Merriweather, serif").font == (
        "Merriweather, Georgia, Times New Roman, serif"
    )


@pytest.mark.parametrize(
    "font",
    [
        "Arial; background:url(https://evil.example.com/x)",
        "Arial}</style><script>alert(1)</script>",
        "'Open Sans'",
        '"Open Sans"',
        'Arial" onload="x',
        "Arial\\3b color:red",
        "Arial</mj-attributes>",
        "2Fonts",
    ],
)
def test_a_font_value_cannot_break_out_of_css(font: str) -> None:
    with pytest.raises(RenderError, match="may hold only letters, digits, spaces and hyphens"):
        Design.create(font=font)


def test_footer_is_capped_and_language_checked() -> None:
    with pytest.raises(RenderError, match="at most 1000"):
        Design.create(footer="x" * 1001)
    with pytest.raises(RenderError, match="language 'fr' is not one of de, en"):
        Design.create(language="fr")


def test_json_round_trip_keeps_the_image_and_validates_again() -> None:
    design = Design.create(header_image=HEADER.read_bytes(), primary="#b4153c", footer="A\nB")
    again = Design.from_json(design.to_json())
    assert again == design
    assert again.header is not None and again.header.data == HEADER.read_bytes()
    tampered = design.to_json().replace("#b4153c", "#ffff00")
    with pytest.raises(RenderError, match="contrast"):
        Design.from_json(tampered)
    with pytest.raises(RenderError, match="stored design is unreadable"):
        Design.from_json("{not json")
    assert Design.from_json(None) == Design()


def test_changed_validates_the_whole_design() -> None:
    design = Design.create(primary="#b4153c")
    assert design.changed(font="Inter").font.startswith("Inter, ")
    with pytest.raises(RenderError, match="contrast"):
        design.changed(text="#eeeeee")
