"""Review finding: a shop's template makes `relay preview --out x.png` read local files into
the picture and fetch URLs from the relay's host.

Issue 16 asks that no template can read files or call out, and relay/render/sandbox.py treats a
shop's template as hostile. The Jinja sandbox holds, but the template's MJML may carry raw HTML
(`<mj-raw>`), which `relay/preview.py::screenshot` hands to Chromium as a `file://` page with
the sandbox off (`--no-sandbox`) and no Content-Security-Policy: an `<iframe>` or `<img>` with a
`file:///...` source is drawn into the PNG (found live: the text of a file under /tmp, in the
preview of a stored refund template), and `http://` sources are fetched from the relay's host
(an internal address, a cloud metadata service). The console is to show the same preview to
the shop (SPEC, "Shop console"), which would hand these pictures to the template's author.

Real parts: the renderer, a template stored as a shop would write it, Debian's Chromium, a
local HTTP server that counts requests, a red PNG file on disk sampled in the screenshot.
"""

from __future__ import annotations

import http.server
import io
import threading
from pathlib import Path
from typing import ClassVar

from PIL import Image

from relay.preview import preview_html, screenshot
from relay.render import (
    Design,
    TemplateSource,
    check_template,
    render_parts,
    sample_data,
    sample_envelope,
)
from tests.rig.tools import free_port, require

RED = (255, 0, 0)


def hostile_template(local_png: Path, url: str) -> TemplateSource:
    html = (
        '{% extends "layout.mjml" %}{% block content %}'
        f'<mj-raw><img src="{local_png.as_uri()}" width="600" height="300">'
        f'<img src="{url}" width="1" height="1"></mj-raw>'
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


def test_a_preview_neither_draws_local_files_nor_fetches_urls(tmp_path: Path) -> None:
    require("chromium")
    local_png = tmp_path / "not-for-the-shop.png"
    Image.new("RGB", (600, 300), RED).save(local_png)
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        template = hostile_template(local_png, f"http://127.0.0.1:{port}/called-out")
        check_template(template)  # what `relay shop template --from-file` lets through
        parts = render_parts(Design(), template, sample_data("refund", "de"), sample_envelope("de"))
        with Image.open(io.BytesIO(screenshot(preview_html(parts)))) as shot:
            colours = shot.convert("RGB").getcolors(maxcolors=10_000_000) or []
    finally:
        server.shutdown()
    red = sum(count for count, colour in colours if colour == RED)
    found = f"fetched {_Counter.hits}; {red} pixels of a local file drawn into the picture"
    assert not _Counter.hits and red < 1000, found
