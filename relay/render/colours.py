"""Hex colours and their contrast, as WCAG 2.1 defines it (success criterion 1.4.3)."""

from __future__ import annotations

import re

from relay.render.errors import RenderError

# WCAG 2.1 SC 1.4.3 (AA): body text needs a contrast ratio of at least 4.5:1.
AA_BODY_TEXT = 4.5

_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_hex(value: str, field: str) -> str:
    """'#1A2b3c', '1a2b3c' or '#abc' -> '#1a2b3c'; anything else is refused."""
    match = _HEX.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise RenderError(
            f"{value!r} is not a hex colour; write it as #RRGGBB, e.g. #1a73e8",
            template="design",
            variable=field,
        )
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def contrast_ratio(first: str, second: str) -> float:
    """(L1 + 0.05) / (L2 + 0.05), L the relative luminance of the lighter and darker colour."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def require_contrast(foreground: str, background: str, what: str, field: str) -> None:
    ratio = contrast_ratio(foreground, background)
    # Compare unrounded, report rounded down: 4.49 must not show as "4.5 found, 4.5 needed".
    if ratio < AA_BODY_TEXT:
        shown = int(ratio * 100) / 100
        raise RenderError(
            f"{what}: {foreground} on {background} has a contrast ratio of {shown:.2f}:1;"
            f" WCAG AA needs at least {AA_BODY_TEXT}:1 for body text",
            template="design",
            variable=field,
        )


def _luminance(colour: str) -> float:
    """Relative luminance (WCAG 2.1 definition), sRGB channels linearised."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
