"""Previews of rendered mail: an HTML file a browser opens, or a PNG from headless Chromium.

The I/O half of `relay preview` (the pure half is relay.render). The HTML preview replaces the
`cid:` reference of the header image with a `data:` URI, since a browser has no MIME parts to
look in. The PNG is Debian's Chromium taking a screenshot of that HTML at the width a customer
reads it (600 px desktop, 375 px phone); the white space below the mail is cropped.

A template is the shop's, and the PNG is drawn on the relay's host (and shown back to the shop
in the console), so what the HTML points at must stay out of the picture: the page carries a
Content-Security-Policy that lets it load nothing but `data:` images and inline styles (no
`file://`, no `http://` of the host's network, no script), meta refreshes are removed (a
navigation is no load that CSP stops), and Chromium runs with every host name unresolvable and
a proxy that does not exist for everything, loopback included. The page is a file alone in a
fresh private directory (a data: URL would do, but one argument is limited to 128 KB, less
than a design's header image). check_template refuses such templates already
(relay.render.markup); this holds for the ones stored before.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from relay.render import Parts

CHROMIUM = "/usr/bin/chromium"
WIDTHS = (600, 375)
WINDOW_HEIGHT = 4000  # taller than any notification; what is below the mail is cropped
TIMEOUT = 60.0
CROP_MARGIN = 24
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    # No network: no name resolves, and every URL (loopback too: `<-loopback>` removes
    # Chromium's implicit bypass) goes to a proxy on the discard port, which nothing serves.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--disable-features=NetworkPrediction",
)
# CSP 3 via <meta> (W3C CSP 3, 3.3): nothing but data: images and inline styles loads.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
_CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
_HEAD = re.compile(r"<head\b[^>]*+>", re.IGNORECASE)
_META = re.compile(r"<meta\b[^>]*+>", re.IGNORECASE)


class PreviewError(Exception):
    """The preview could not be made; the message says what to do."""


def preview_html(parts: Parts) -> str:
    """The rendered HTML with the header image inlined as a data: URI, locked down (CSP, no
    meta refresh) for viewing on the relay's host or in a browser."""
    html = parts.html
    if parts.header is not None and parts.content_id:
        data = base64.b64encode(parts.header.data).decode("ascii")
        html = html.replace(
            f"cid:{parts.content_id}", f"data:{parts.header.mime_type};base64,{data}"
        )
    return locked_down(html)


def locked_down(html: str) -> str:
    """`html` with the CSP first in its head and no `<meta http-equiv=refresh>`."""
    html = _META.sub(lambda m: "" if "refresh" in m.group(0).lower() else m.group(0), html)
    head = _HEAD.search(html)
    if head is None:
        return f"<head>{_CSP_META}</head>{html}"
    return html[: head.end()] + _CSP_META + html[head.end() :]


def write_preview(parts: Parts, out: Path, width: int = 600) -> Path:
    """Write `out` as .html or .png (by its suffix); returns `out`."""
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm"):
        out.write_text(preview_html(parts), encoding="utf-8")
        return out
    if suffix != ".png":
        raise PreviewError(f"{out}: the preview is written as .html or .png")
    out.write_bytes(screenshot(preview_html(parts), width))
    return out


def screenshot(html: str, width: int = 600) -> bytes:
    """PNG bytes of `html` as headless Chromium draws it `width` pixels wide."""
    if width not in WIDTHS:
        raise PreviewError(f"width {width} is not one of {', '.join(map(str, WIDTHS))}")
    browser = chromium_path()
    with tempfile.TemporaryDirectory(prefix="relay-preview-") as work:
        page, shot = Path(work, "preview.html"), Path(work, "preview.png")
        page.write_text(html, encoding="utf-8")
        command = [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(work, 'profile')}",
            f"--window-size={width},{WINDOW_HEIGHT}",
            f"--screenshot={shot}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise PreviewError(f"Chromium did not finish within {TIMEOUT:.0f} s") from None
        if not shot.is_file():
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise PreviewError(
                f"Chromium made no screenshot (exit {done.returncode}): {' | '.join(tail)}"
            )
        return _crop(shot.read_bytes())


def chromium_path() -> str:
    """Debian's Chromium (or RELAY_CHROMIUM); a clear error naming the package when missing."""
    wanted = os.environ.get("RELAY_CHROMIUM", CHROMIUM)
    found = wanted if Path(wanted).is_file() else shutil.which(wanted)
    if not found or not os.access(found, os.X_OK):
        raise PreviewError(
            f"Chromium is needed for PNG previews and was not found at {wanted}: install the"
            " Debian package chromium (apt-get install chromium), or write an .html preview"
        )
    return found


def _crop(png: bytes) -> bytes:
    """Cut the empty rows below the mail (they have the colour of the bottom row)."""
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    bottom = rgb.getpixel((width // 2, height - 1))
    last = height - 1
    pixels = rgb.load()
    while last > 0 and all(pixels[x, last] == bottom for x in range(0, width, 4)):
        last -= 1
    out = io.BytesIO()
    rgb.crop((0, 0, width, min(height, last + 1 + CROP_MARGIN))).save(out, format="PNG")
    return out.getvalue()
