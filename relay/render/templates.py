"""Template sources: the defaults shipped as package data, and a shop's own.

A template is three Jinja sources for one kind and language: the subject, the HTML body in
MJML (autoescaped) and the text body (not escaped: it is text/plain). The defaults live in
`templates/<kind>/<language>/{subject.txt,body.mjml,body.txt}` and extend the shared
`layout.mjml` / `layout.txt`. A shop's own template is the same three parts; as one file (what
`relay shop template --from-file` reads) they are separated by marker lines:

    === subject ===
    Zahlungserinnerung zu Ihrer Bestellung {{ order }}
    === html ===
    {% extends "layout.mjml" %} ...
    === text ===
    {% extends "layout.txt" %} ...
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from relay.render.errors import RenderError
from relay.render.fields import SCHEMAS

BUILTIN_KINDS = tuple(SCHEMAS)
LANGUAGES = ("de", "en")
PARTS = ("subject", "html", "text")
MAX_PART_CHARS = {"subject": 1_000, "html": 64 * 1024, "text": 32 * 1024}
_FILE_NAMES = {"subject": "subject.txt", "html": "body.mjml", "text": "body.txt"}
_MARKER = re.compile(r"^=== (subject|html|text) ===[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class TemplateSource:
    kind: str
    language: str
    subject: str
    html: str  # MJML
    text: str
    origin: str = "default"  # "default" (shipped) or "shop" (the shop's own)

    def __post_init__(self) -> None:
        for part in PARTS:
            source = getattr(self, part)
            if not isinstance(source, str) or not source.strip():
                raise RenderError(f"the {part} part is empty", template=self.name(part))
            if len(source) > MAX_PART_CHARS[part]:
                raise RenderError(
                    f"the {part} part has {len(source)} characters; at most {MAX_PART_CHARS[part]}",
                    template=self.name(part),
                )

    def name(self, part: str) -> str:
        """What errors call this part: 'payment-reminder/de/body.mjml' (or 'shop:...')."""
        prefix = "shop:" if self.origin == "shop" else ""
        return f"{prefix}{self.kind}/{self.language}/{_FILE_NAMES[part]}"

    def source(self, part: str) -> str:
        return getattr(self, part)

    @property
    def digest(self) -> str:
        """Identifies the exact source in the history (12 hex digits of SHA-256)."""
        joined = "\x00".join((self.subject, self.html, self.text)).encode()
        return hashlib.sha256(joined).hexdigest()[:12]

    @property
    def reference(self) -> str:
        """'payment-reminder/de default 3f2a9c0b1d4e': kind, language, origin and digest."""
        return f"{self.kind}/{self.language} {self.origin} {self.digest}"

    def to_file_text(self) -> str:
        return "".join(f"=== {part} ===\n{self.source(part).rstrip()}\n" for part in PARTS)

    @classmethod
    def from_file_text(cls, kind: str, language: str, text: str) -> TemplateSource:
        """A shop's template file (the format in the module docstring)."""
        where = f"shop:{kind}/{language}"
        if len(text) > sum(MAX_PART_CHARS.values()) + 100:
            raise RenderError("the template file is too large", template=where)
        pieces = _MARKER.split(text)
        if pieces[0].strip():
            raise RenderError(
                "the file must start with '=== subject ===' (then '=== html ===', '=== text ===')",
                template=where,
                line=1,
            )
        parts: dict[str, str] = {}
        for part, body in zip(pieces[1::2], pieces[2::2], strict=True):
            if part in parts:
                raise RenderError(f"'=== {part} ===' appears twice", template=where)
            parts[part] = body.strip("\n") + ("\n" if part != "subject" else "")
        missing = [p for p in PARTS if p not in parts]
        if missing:
            raise RenderError(f"the file has no '=== {missing[0]} ===' part", template=where)
        return cls(kind, language, origin="shop", **parts)


def default_template(kind: str, language: str) -> TemplateSource:
    """The shipped template; RenderError when there is none for this kind or language."""
    if language not in LANGUAGES:
        raise RenderError(
            f"language {language!r} is not one of {', '.join(LANGUAGES)}", variable="language"
        )
    if kind not in BUILTIN_KINDS:
        raise RenderError(
            f"no default template for kind {kind!r} (built-in: {', '.join(BUILTIN_KINDS)});"
            " a shop-defined kind needs the shop's own template",
            variable="kind",
        )
    return _load_default(kind, language)


@lru_cache(maxsize=len(BUILTIN_KINDS) * len(LANGUAGES))
def _load_default(kind: str, language: str) -> TemplateSource:
    folder = resources.files("relay.render").joinpath("templates", kind, language)
    parts = {p: folder.joinpath(f).read_text(encoding="utf-8") for p, f in _FILE_NAMES.items()}
    return TemplateSource(kind, language, **parts)
