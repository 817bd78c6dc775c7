"""SpamAssassin on a rendered payment reminder, as the customer's mail server would see it.

Debian's `spamassassin` runs with local tests only (-L: no DNS blocklists, no SPF or DKIM key
lookups, no Razor/Pyzor). The message is what the relay sends: rendered, given a Message-ID,
DKIM-signed by relay.dkim_sign, with the Received line the receiving server adds. That hop
comes from a loopback address (tests touch nothing else), which SpamAssassin always trusts and
rewards with ALL_TRUSTED (-1.0); a real relay's public address would not get it, so its score
is set to 0 here: the -1.0 must not hide what the rendered mail itself scores.
"""

from __future__ import annotations

import datetime
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from relay import dkim_sign
from relay.keys import new_dkim_key
from relay.render import Design, default_template, render_message, sample_data, sample_envelope
from tests.rig.tools import require

HEADER = Path(__file__).parent / "data" / "render" / "header.png"


def sent_form(language: str) -> bytes:
    design = Design.create(
        header_image=HEADER.read_bytes(),
        primary="#b4153c",
        text="#222222",
        font="Open Sans",
        footer="Müller & Söhne GmbH · Hauptstraße 1 · 10115 Berlin\nkontakt@shop.example.com",
    )
    now = datetime.datetime.now(datetime.UTC)
    envelope = replace(
        sample_envelope(language),
        sender_name="Müller & Söhne",
        date=now,
        message_id="<18f3a2b4c5d9f1e2a@relay.example.net>",
    )
    kind = "payment-reminder"
    message = render_message(
        design, default_template(kind, language), sample_data(kind, language), envelope
    ).message
    # What the relay's pipeline does before sending: X-Relay-* removed, DKIM signature on top.
    message = re.sub(rb"X-Relay-[^:]+:[^\r]*\r\n", b"", message)
    message = dkim_sign.sign(message, "shop.example.com", "s1", new_dkim_key()) + message
    received = (
        "Received: from relay.example.net (relay.example.net [127.0.0.1])\r\n"
        "\tby mx.example.org (Postfix) with ESMTPS id 4bQx2Y1KzVz9sWd\r\n"
        "\tfor <kunde@example.org>; " + now.strftime("%a, %d %b %Y %H:%M:%S +0000") + "\r\n"
    )
    return received.encode() + message


def spamassassin(message: bytes) -> tuple[float, list[str]]:
    done = subprocess.run(
        ["spamassassin", "-L", "-t", "--cf=score ALL_TRUSTED 0"],
        input=message,
        capture_output=True,
        timeout=120,
        check=True,
    )
    head = re.sub(rb"\r?\n[ \t]+", b"", done.stdout.split(b"\n\n", 1)[0])  # unfold
    status = re.search(rb"^X-Spam-Status: \w+, score=(-?[\d.]+) .*?tests=(\S*)", head, re.M)
    assert status, done.stdout[:2000]
    rules = status.group(2).decode().split(",")
    return float(status.group(1)), [rule for rule in rules if rule]


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_rendered_payment_reminder_scores_at_most_zero(language: str) -> None:
    require("spamassassin")
    score, rules = spamassassin(sent_form(language))
    print(f"spamassassin ({language}): score {score}, rules {rules}")
    assert score <= 0, f"score {score}: {rules}"
    for rule in ("HTML_FONT_LOW_CONTRAST", "MIME_HTML_ONLY", "MISSING_MID", "MISSING_DATE"):
        assert rule not in rules
