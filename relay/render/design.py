"""A shop's design (SPEC "Design and templates"): header image, colours, font, footer, language.

`Design.create` validates and normalises everything a shop (or an admin) types or uploads;
a `Design` that exists is valid. `to_json` / `from_json` store it in one text column (the image
as base64) and validate again on the way back in, so a hand-edited row cannot slip past.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image, UnidentifiedImageError

from relay.render.colours import parse_hex, require_contrast
from relay.render.errors import RenderError

LANGUAGES = ("de", "en")
MAX_IMAGE_BYTES = 200 * 1024
MAX_IMAGE_SIDE = 4000  # pixels; a header wider than this is a mistake (and a decoding cost)
MAX_FOOTER_CHARS = 1000
MAX_FONT_CHARS = 200
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}

# Web-safe fallbacks, always appended (in this order) so every client finds a font.
SANS_FALLBACKS = ("Arial", "Helvetica", "sans-serif")
SERIF_FALLBACKS = ("Georgia", "Times New Roman", "serif")
GENERIC_FAMILIES = ("serif", "sans-serif", "monospace", "system-ui")

# A family name is a run of CSS identifiers (CSS Fonts 4, 4.1.1: unquoted family names):
# letters, digits and hyphens, not starting with a digit or hyphen, separated by spaces. Nothing
# else is accepted, so no value can close the declaration (`;`, `}`), the attribute (quotes) or
# the tag (`<`), and the stack needs no quoting at all.
_FAMILY = re.compile(r"[^\W\d_-][\w-]*(?: [^\W\d_-][\w-]*)*")


@dataclass(frozen=True)
class HeaderImage:
    data: bytes
    mime_type: str  # image/png or image/jpeg, from the content (never from a file name)
    width: int
    height: int

    @property
    def extension(self) -> str:
        return "png" if self.mime_type == "image/png" else "jpg"


@dataclass(frozen=True)
class Design:
    primary: str = "#1a56db"  # buttons, links, headings, the rule under the header
    text: str = "#1f2937"
    background: str = "#ffffff"  # the card the text sits on
    font: str = ", ".join(SANS_FALLBACKS)
    footer: str = ""
    language: str = "de"
    header: HeaderImage | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        *,
        header_image: bytes | None = None,
        primary: str = "#1a56db",
        text: str = "#1f2937",
        background: str = "#ffffff",
        font: str = "",
        footer: str = "",
        language: str = "de",
    ) -> Design:
        """A validated design; RenderError (template 'design', variable the field) otherwise."""
        design = cls(
            primary=parse_hex(primary, "primary"),
            text=parse_hex(text, "text"),
            background=parse_hex(background, "background"),
            font=font_stack(font),
            footer=_footer(footer),
            language=_language(language),
            header=read_header_image(header_image) if header_image is not None else None,
        )
        design.check_contrast()
        return design

    def check_contrast(self) -> None:
        """Body text on the card, and the primary colour (links, headings; the button's label
        is the card colour on the primary colour) against the card: both WCAG AA."""
        require_contrast(self.text, self.background, "text colour", "text")
        require_contrast(self.primary, self.background, "primary colour", "primary")

    def changed(self, **changes: Any) -> Design:
        """A copy with some fields changed, validated as a whole again."""
        values = self.to_fields()
        values.update(changes)
        return Design.create(**values)

    def to_fields(self) -> dict[str, Any]:
        return {
            "header_image": self.header.data if self.header else None,
            "primary": self.primary,
            "text": self.text,
            "background": self.background,
            "font": self.font,
            "footer": self.footer,
            "language": self.language,
        }

    def to_json(self) -> str:
        values = self.to_fields()
        image = values.pop("header_image")
        values["header_image"] = base64.b64encode(image).decode() if image else None
        return json.dumps(values, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Design:
        """The stored design; an empty column is the default design."""
        if not text:
            return cls()
        try:
            values = json.loads(text)
            image = values.pop("header_image", None)
            header = base64.b64decode(image, validate=True) if image else None
            return cls.create(header_image=header, **values)
        except (ValueError, TypeError, binascii.Error) as error:
            if isinstance(error, RenderError):
                raise
            raise RenderError(f"stored design is unreadable: {error}", template="design") from None

    def without_header(self) -> Design:
        return replace(self, header=None)


def read_header_image(data: bytes) -> HeaderImage:
    """PNG or JPEG, at most 200 KB, judged by decoding the content with Pillow."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise _image_error("the header image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise _image_error(
            f"the header image has {len(data) // 1024} KB; at most {MAX_IMAGE_BYTES // 1024} KB"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), mode="r", formats=list(IMAGE_TYPES)) as image:
                kind, size = image.format, image.size
                image.load()  # decode it all: a truncated or corrupt file fails here
    except UnidentifiedImageError:  # its text names an in-memory object, which says nothing
        raise _image_error("the header image is not a readable PNG or JPEG file") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as error:
        raise _image_error(
            f"the header image is not a readable PNG or JPEG file ({error})"
        ) from None
    if max(size) > MAX_IMAGE_SIDE:
        raise _image_error(f"the header image is {size[0]}x{size[1]} px; at most {MAX_IMAGE_SIDE}")
    return HeaderImage(bytes(data), IMAGE_TYPES[kind or ""], size[0], size[1])


def font_stack(value: str) -> str:
    """The shop's families, then the web-safe fallbacks it does not name yet, generic last."""
    if not isinstance(value, str) or len(value) > MAX_FONT_CHARS:
        raise RenderError(
            f"the font stack is longer than {MAX_FONT_CHARS} characters",
            template="design",
            variable="font",
        )
    names = [" ".join(part.split()) for part in value.split(",") if part.strip()]
    for name in names:
        if not _FAMILY.fullmatch(name):
            raise RenderError(
                f"font family {name!r} may hold only letters, digits, spaces and hyphens"
                " (no quotes, ';', '}' or '<'), e.g. 'Open Sans, Arial'",
                template="design",
                variable="font",
            )
    generic = [n for n in names if n.lower() in GENERIC_FAMILIES]
    fallbacks = SERIF_FALLBACKS if any(n.lower() == "serif" for n in generic) else SANS_FALLBACKS
    stack = [n for n in names if n.lower() not in GENERIC_FAMILIES]
    seen = {n.lower() for n in stack}
    stack += [f for f in fallbacks[:-1] if f.lower() not in seen]
    stack += generic or [fallbacks[-1]]
    return ", ".join(stack)


def _footer(value: str) -> str:
    if not isinstance(value, str):
        raise RenderError("the footer must be text", template="design", variable="footer")
    text = "\n".join(line.rstrip() for line in value.replace("\r\n", "\n").split("\n")).strip()
    if len(text) > MAX_FOOTER_CHARS:
        raise RenderError(
            f"the footer has {len(text)} characters; at most {MAX_FOOTER_CHARS}",
            template="design",
            variable="footer",
        )
    return text


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise RenderError(
            f"language {value!r} is not one of {', '.join(LANGUAGES)}",
            template="design",
            variable="language",
        )
    return value


def _image_error(reason: str) -> RenderError:
    return RenderError(reason, template="design", variable="header_image")
