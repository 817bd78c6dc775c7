"""`relay shop design`, `relay shop template`, `relay preview` and `relay test-email` as a
shop's admin runs them: the real CLI on a relay directory, Chromium for the PNG, the running
relay and the test Postfix for the test e-mail. How designs (the header image a blob) and
templates are stored, on both store backends: tests/test_design_store.py."""

from __future__ import annotations

import email
import email.header
import email.policy
import json
import os
import random
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import RELAY, SHOP, RelayProcess
from tests.keys_in_dns import publish_keys, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig
from tests.rig.tools import require

HEADER = Path(__file__).parent / "data" / "render" / "header.png"
PRIMARY = (0xB4, 0x15, 0x3C)
YELLOW = (0xF5, 0xC5, 0x18)  # the block inside the header image
GREEN = (0x0B, 0x3D, 0x2E)  # the header image's background


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def big_png(path: Path) -> Path:
    """A real PNG over 200 KB (noise does not compress)."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (300, 300), bytes(rng.randrange(256) for _ in range(270000)))
    image.save(path, format="PNG")
    assert path.stat().st_size > 200 * 1024
    return path


def design_json(relay: RelayProcess) -> dict:
    return relay.json("shop", "design", SHOP)


def test_design_is_set_shown_and_every_bad_value_refused(relay_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory()
    footer = "Mein Shop GmbH\nBerlin"
    done = relay.run("shop", "design", SHOP, "--header-image", str(HEADER), "--color-primary",
                     "#B4153C", "--font", "Open Sans", "--footer", footer)  # fmt: skip
    assert "design changed: header_image, primary, font, footer" in done.stdout
    shown = design_json(relay)
    assert shown["header_image"]["type"] == "image/png" and shown["header_image"]["width"] == 600
    assert shown["primary"] == "#b4153c" and shown["contrast"]["primary"] >= 4.5
    assert shown["font"] == "Open Sans, Arial, Helvetica, sans-serif"  # fallbacks appended
    assert shown["footer"] == "Mein Shop GmbH\nBerlin"
    (tmp_path / "notes.png").write_text("not an image")
    refusals = [
        (("--color-primary", "#eeeeee"), "--color-primary: primary colour: #eeeeee on #ffffff has"
         " a contrast ratio of 1.16:1; WCAG AA needs at least 4.5:1"),
        (("--color-text", "red"), "--color-text: 'red' is not a hex colour"),
        (("--header-image", str(tmp_path / "notes.png")),
         "--header-image: the header image is not a readable PNG or JPEG file"),
        (("--header-image", str(big_png(tmp_path / "big.png"))), "at most 200 KB"),
        (("--font", "Arial; } body { display:none"), "--font: font family"),
        (("--footer", "x" * 1001), "--footer: the footer has 1001 characters"),
    ]  # fmt: skip
    for args, words in refusals:
        refused = relay.run("shop", "design", SHOP, *args, check=False)
        assert refused.returncode == 1 and words in refused.stderr, (args, refused.stderr)
    assert design_json(relay) == shown  # nothing of it was stored
    both = relay.run("shop", "design", SHOP, "--header-image", str(HEADER), "--no-header-image",
                     check=False)  # fmt: skip
    assert both.returncode == 2
    relay.run("shop", "design", SHOP, "--no-header-image")
    assert design_json(relay)["header_image"] is None


def test_templates_are_checked_before_they_are_stored(relay_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory()
    default = relay.run("shop", "template", SHOP, "payment-reminder", "--show").stdout
    assert default.startswith("=== subject ===\nZahlungserinnerung")
    path = tmp_path / "reminder.tpl"
    for broken, words in (
        (default.replace("{{ order }}", "{{ ordr }}", 1),
         "shop:payment-reminder/de/subject.txt, line 1: unknown variable 'ordr'"),
        (default.replace("{% block content %}", "{% block content %}{% if %}", 1),
         "shop:payment-reminder/de/body.mjml, line 2: syntax error"),
        (default.replace("=== text ===", "=== txt ===", 1), "has no '=== text ===' part"),
    ):  # fmt: skip
        path.write_text(broken)
        done = relay.run("shop", "template", SHOP, "payment-reminder", "--from-file", str(path),
                         check=False)  # fmt: skip
        assert done.returncode == 1 and words in done.stderr, done.stderr
    status = relay.run("shop", "template", SHOP, "payment-reminder").stdout
    assert "the default template" in status
    path.write_text(default.replace("Zahlungserinnerung zu", "Erinnerung an", 1))
    relay.run("shop", "template", SHOP, "payment-reminder", "--from-file", str(path))
    assert (
        "the shop's own template" in relay.run("shop", "template", SHOP, "payment-reminder").stdout
    )
    assert relay.run("shop", "template", SHOP, "payment-reminder", "--show").stdout.startswith(
        "=== subject ===\nErinnerung an"
    )
    # English has its own template: still the default.
    english = relay.run("shop", "template", SHOP, "payment-reminder", "--language", "en").stdout
    assert "the default template" in english
    relay.run("shop", "template", SHOP, "payment-reminder", "--reset")
    assert "the default template" in relay.run("shop", "template", SHOP, "payment-reminder").stdout
    unknown = relay.run("shop", "template", SHOP, "newsletter", check=False)
    assert unknown.returncode == 1 and "unknown kind 'newsletter'" in unknown.stderr


@pytest.mark.parametrize(
    ("width", "yellow_at", "green_at"),
    [("600", (100, 60), (400, 60)), ("375", (60, 35), (300, 35))],
)
def test_preview_png_is_chromiums_drawing_of_the_shops_design(
    relay_factory,
    tmp_path: Path,
    width: str,
    yellow_at: tuple[int, int],
    green_at: tuple[int, int],
) -> None:  # type: ignore[no-untyped-def]
    require("chromium")
    relay = relay_factory()
    relay.run("shop", "design", SHOP, "--header-image", str(HEADER), "--color-primary", "#b4153c")
    out = tmp_path / "x.png"
    done = relay.run("preview", "--shop", SHOP, "--kind", "payment-reminder", "--out", str(out),
                     "--width", width)  # fmt: skip
    assert "payment-reminder/de" in done.stdout
    with Image.open(out) as image:
        shot = image.convert("RGB")
    assert shot.width == int(width) and shot.height > 600
    assert near(shot.getpixel(yellow_at), YELLOW), shot.getpixel(yellow_at)
    assert near(shot.getpixel(green_at), GREEN), shot.getpixel(green_at)
    colours = shot.getcolors(maxcolors=shot.width * shot.height) or []
    assert sum(n for n, colour in colours if near(colour, PRIMARY)) > 3000


def test_preview_html_data_and_refusals(relay_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory()
    relay.run("shop", "design", SHOP, "--header-image", str(HEADER))
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"data": {"customer_name": "Max Muster", "amount": "42.00",
                                         "paid_on": "2025-08-01"}, "language": "de"}))  # fmt: skip
    out = tmp_path / "p.html"
    relay.run("preview", "--shop", SHOP, "--kind", "payment-received", "--data", str(data),
              "--out", str(out))  # fmt: skip
    html = out.read_text()
    assert "Max Muster" in html and "42,00" in html and 'src="data:image/png;base64,' in html
    data.write_text('{"amount": ')
    bad = [
        (("--kind", "payment-received", "--data", str(data), "--out", str(out)), 1, "is not JSON"),
        (("--kind", "newsletter", "--out", str(out)), 1, "unknown kind 'newsletter'"),
        (("--kind", "refund", "--out", str(tmp_path / "p.pdf")), 2, "FILE.html or FILE.png"),
    ]
    for args, code, words in bad:
        done = relay.run("preview", "--shop", SHOP, *args, check=False)
        assert done.returncode == code and words in done.stderr, done.stderr
    env = {**os.environ, "RELAY_CHROMIUM": str(tmp_path / "no-chromium")}
    missing = subprocess.run(
        [*RELAY, "--config", str(relay.config), "preview", "--shop", SHOP, "--kind", "refund",
         "--out", str(tmp_path / "p.png")], capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 1 and "apt-get install chromium" in missing.stderr
    assert not (tmp_path / "p.png").exists()


def test_test_email_is_a_rendered_sample_with_an_encoded_subject(
    relay: RelayProcess, nsd: NsdServer, postfix: PostfixRig
) -> None:
    publish_keys(nsd, relay)
    relay.run("shop", "set", SHOP, "--sender-name", "Möbel Müller")
    relay.run("shop", "design", SHOP, "--header-image", str(HEADER))
    done = relay.run("test-email", "--shop", SHOP, "--to", names.CUSTOMER)
    assert "queued as" in done.stdout
    relay.wait_state(names.CUSTOMER, {"delivered"})
    raw = postfix.wait_for_messages(names.CUSTOMER)[0].replace(b"\n", b"\r\n")
    assert verify_dkim(raw, nsd.nameserver)[0].startswith("pass d=relay.example.net")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(message["Subject"]) == "Zahlungserinnerung zu Ihrer Bestellung TEST-10023"
    assert str(message["From"]).startswith("Möbel Müller <")
    assert re.search(rb"^From: =\?utf-8\?", head, re.M | re.I)
    assert message.get_content_type() == "multipart/related"  # the header image, inline
    row = relay.recipients(to=names.CUSTOMER)[0]
    assert row["test"] is True and row["kind"] == "payment-reminder"
    assert row["template"].startswith("payment-reminder/de default")
    refund = relay.run("test-email", "--shop", SHOP, "--to", names.CUSTOMER, "--kind", "refund",
                       "--language", "en")  # fmt: skip
    assert "'Refund for your order TEST-10023'" in refund.stdout
    relay.run("shop", "kinds", SHOP, "--add", "newsletter:optional")
    custom = relay.run("test-email", "--shop", SHOP, "--to", names.CUSTOMER, "--kind",
                       "newsletter", check=False)  # fmt: skip
    assert custom.returncode == 1 and "no sample data" in custom.stderr
    bad = relay.run("test-email", "--shop", SHOP, "--to", "not-an-address", check=False)
    assert bad.returncode == 2
    assert len(relay.recipients(to=names.CUSTOMER)) == 2
