"""X-Relay-Template and X-Relay-Layout over SMTP, end to end on real parts: swaks submits to
the relay (STARTTLS + AUTH), the relay renders in the shop's design (set with the CLI), signs,
queues and delivers to the test Postfix; Mail::DKIM verifies what Postfix stored, SpamAssassin
(local rules only) scores it, the history says which template rendered it. Every bad input is
refused at DATA with 550 5.6.0 (or 5.7.1 for an unknown kind) and leaves nothing queued."""

from __future__ import annotations

import email
import email.policy
import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from relay.render import sample_data
from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess, queue_id, wait
from tests.keys_in_dns import publish_keys, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig
from tests.rig.tools import require

HEADER = Path(__file__).parent / "data" / "render" / "header.png"
FROM = "info@shop.example.com"


def templated(kind: str, body: bytes, *headers: str, to: str = names.CUSTOMER) -> bytes:
    head = [f"From: {FROM}", f"To: {to}", f"X-Relay-Template: {kind}", *headers]
    if not any(h.lower().startswith("content-type:") for h in headers):
        head += ["Content-Type: application/json", "Content-Transfer-Encoding: 8bit"]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body + b"\r\n"


def reminder_json(language: str = "de", **changes: object) -> bytes:
    data = {**sample_data("payment-reminder", language), **changes}
    return json.dumps({"data": data, "language": language}, ensure_ascii=False).encode()


def send(relay: RelayProcess, tmp_path: Path, message: bytes, to: str = names.CUSTOMER) -> str:
    """swaks (STARTTLS, AUTH) with the message as DATA; returns its dialogue (stdout, which
    echoes the data: bytes that are not UTF-8 are shown replaced)."""
    require("swaks")
    path = tmp_path / f"message-{time.monotonic_ns()}.eml"
    path.write_bytes(message)
    command = ["swaks", "--server", f"127.0.0.1:{relay.submission_port}", "--timeout", "30",
               "-tls", "--auth", "PLAIN", "--auth-user", SHOP, "--auth-password", SHOP_PASSWORD,
               "--from", FROM, "--to", to, "--data", f"@{path}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=60)
    return done.stdout.decode("utf-8", "replace")


def verify_shop(relay: RelayProcess) -> None:
    """With the shop's DKIM key in the test DNS (publish_keys), `relay dns check` after the
    start-up check (which would overwrite it): verified, and the custom return path of the
    test DNS (bounces.shop.example.com, a CNAME of the relay's bounce domain) usable."""
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    wait(
        lambda: conn.execute("SELECT 1 FROM dns_verdicts WHERE shop = ?", (SHOP,)).fetchone(),
        20,
        "the start-up DNS check",
    )
    conn.close()
    report = relay.json("dns", "check", SHOP)[0]
    assert report["verified"] and report["return_path"] == names.SHOP_RETURN_PATH, report


def stored_count(relay: RelayProcess) -> int:
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    try:
        return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("identity", ["shop", "fallback"])
def test_a_templated_payment_reminder_arrives_signed_well_formed_and_clean(
    relay: RelayProcess, nsd: NsdServer, postfix: PostfixRig, tmp_path: Path, identity: str
) -> None:
    relay.run("shop", "set", SHOP, "--sender-name", "Möbel Müller & Söhne")
    footer = "Möbel Müller GmbH · Hauptstraße 1 · 10115 Berlin\nkontakt@shop.example.com"
    relay.run("shop", "design", SHOP, "--header-image", str(HEADER), "--color-primary",
              "#b4153c", "--font", "Open Sans", "--footer", footer)  # fmt: skip
    publish_keys(nsd, relay, SHOP)
    if identity == "shop":
        verify_shop(relay)
    dialogue = send(relay, tmp_path, templated("payment-reminder", reminder_json(),
                                               "X-Relay-Order: 10023"))  # fmt: skip
    qid = queue_id(dialogue)
    relay.wait_state(names.CUSTOMER, {"delivered"})
    received = postfix.wait_for_messages(names.CUSTOMER)[0].replace(b"\n", b"\r\n")

    domain = "shop.example.com" if identity == "shop" else "relay.example.net"
    assert verify_dkim(received, nsd.nameserver)[0].startswith(f"pass d={domain}")
    message = email.message_from_bytes(received, policy=email.policy.default)
    assert message.get_content_type() == "multipart/related"
    root, image = message.get_payload()  # type: ignore[misc]
    assert root.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in root.get_payload()] == ["text/plain", "text/html"]
    assert image.get_content() == HEADER.read_bytes() and image["Content-ID"]
    html = root.get_payload()[1].get_content()
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html and "#b4153c" in html
    assert "1.234,56&nbsp;€" in html and "Zahlungserinnerung" in str(message["Subject"])
    assert all(len(line) <= 998 for line in received.split(b"\r\n"))
    head = received.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "every header is 7-bit: non-ASCII only as RFC 2047 encoded words"
    assert b"=?utf-8?" in head.lower() and "Möbel Müller & Söhne" in str(message["From"])
    assert not re.search(rb"^X-Relay-", head, re.M | re.I)
    row = relay.recipients(order="10023")[0]
    assert row["message"] == qid and row["kind"] == "payment-reminder"
    assert row["template"].startswith("payment-reminder/de default ") and row["test"] is False

    # The message as Postfix stored it: its Received line names the relay's hop. Loopback
    # earns ALL_TRUSTED (-1.0), which a real relay's public address would not (set to 0, as in
    # test_render_spam).
    score, points = spam_points(received)
    print(f"spamassassin -L ({identity} identity): score {score}, rules {points}")
    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"templated-reminder-{identity}.eml").write_bytes(received)
    # Fallback: From and envelope sender both at the relay's domain. Shop: signed as the shop,
    # and its envelope sender at its custom return path (issue 13 item 5), so From and
    # envelope agree too (HEADER_FROM_DIFFERENT_DOMAINS, +1.0 while the envelope was at the
    # relay's bounce domain, is gone). Nothing scores above 0.
    envelope = "bounces.shop.example.com" if identity == "shop" else "bounces.relay.example.net"
    assert str(message["Return-Path"]).rstrip(">").endswith("@" + envelope)
    assert {rule for rule, value in points.items() if value > 0} == set(), points
    assert score <= 0, points


def test_a_design_change_shows_in_the_next_message(
    relay: RelayProcess, postfix: PostfixRig, tmp_path: Path
) -> None:
    for colour, order in (("#b4153c", "A-1"), ("#0b3d2e", "A-2")):
        relay.run("shop", "design", SHOP, "--color-primary", colour)
        queue_id(send(relay, tmp_path, templated("payment-reminder", reminder_json(),
                                                 f"X-Relay-Order: {order}")))  # fmt: skip
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=2)
    colours = []
    for raw in postfix.wait_for_messages(names.CUSTOMER, count=2):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(("html",))
        assert body is not None
        colours.append(("#b4153c" in body.get_content(), "#0b3d2e" in body.get_content()))
    assert sorted(colours) == [(False, True), (True, False)]


def test_the_shop_layout_wraps_the_shops_own_html(
    relay: RelayProcess, postfix: PostfixRig, tmp_path: Path
) -> None:
    relay.run("shop", "design", SHOP, "--header-image", str(HEADER), "--color-primary", "#b4153c")
    message = (
        f"From: Mein Shop <{FROM}>\r\nTo: {names.CUSTOMER}\r\nSubject: Ihre Rechnung 4711\r\n"
        "X-Relay-Layout: shop\r\nX-Relay-Kind: payment-info\r\nX-Relay-Order: 4711\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><head><style>.sum{font-weight:bold}</style></head><body>"
        '<p>Ihre Rechnung über <span class="sum">99,00 €</span> liegt bei.</p></body></html>\r\n'
    ).encode()
    queue_id(send(relay, tmp_path, message))
    relay.wait_state(names.CUSTOMER, {"delivered"})
    raw = postfix.wait_for_messages(names.CUSTOMER)[0]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/related"
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "99,00 €" in html and "font-weight:bold" in html.replace(" ", "") and "#b4153c" in html
    assert "99,00 €" in text  # made from the HTML: the shop sent no text part
    assert str(parsed["Subject"]) == "Ihre Rechnung 4711"
    row = relay.recipients(order="4711")[0]
    assert row["kind"] == "payment-info" and row["template"].startswith("shop-layout/de")


BAD_INPUTS = [
    # (what, message, words in the reply)
    ("broken JSON", templated("payment-reminder", b'{"data": {"amount": 12,}}',
                              "X-Relay-Order: 1"), "JSON body is broken"),
    ("not JSON", templated("payment-reminder", b"amount=12", "X-Relay-Order: 1",
                           "Content-Type: text/plain"), "Content-Type: application/json"),
    ("wrong type", templated("payment-reminder", reminder_json(amount="zwölf"),
                             "X-Relay-Order: 1"), "amount"),
    ("missing value", templated("payment-reminder", json.dumps({"data": {
        k: v for k, v in sample_data("payment-reminder", "de").items() if k != "due_date"}})
        .encode(), "X-Relay-Order: 1"), "missing value for 'due_date'"),
    ("unknown variable", templated("payment-reminder", reminder_json(paymnet_link="https://x.example"),
                                   "X-Relay-Order: 1"), "paymnet_link"),
    ("no order", templated("payment-reminder", reminder_json()), "needs the order number"),
    ("unknown language", templated("payment-reminder", reminder_json().replace(
        b'"language": "de"', b'"language": "fr"'), "X-Relay-Order: 1"), "'fr'"),
    ("unknown key", templated("payment-reminder", b'{"data": {}, "langauge": "de"}',
                              "X-Relay-Order: 1"), "'langauge'"),
    ("NaN", templated("payment-reminder", b'{"data": {"amount": NaN}}', "X-Relay-Order: 1"),
     "NaN"),
    # in lines of 500 (a longer line is refused before the JSON is read: 5.6.0 all the same)
    ("nested too deeply", templated("payment-reminder", b'{"data": ' + b"[\r\n".join(
        [b"[" * 500] * 200) + b"\r\n" + b"\r\n".join([b"]" * 500] * 200) + b"}",
        "X-Relay-Order: 1"),
     "too deeply"),
    ("JSON too large", templated("payment-reminder", b'{"data": {' + b"  \r\n" * 80_000 +
                                 b"}}", "X-Relay-Order: 1"), "at most 262144"),
    ("name twice", templated("payment-reminder", b'{"data": {}, "data": {}}', "X-Relay-Order: 1"),
     "names 'data' twice"),
    ("not UTF-8", templated("payment-reminder", b'{"data": {"customer_name": "M\xfcller"}}',
                            "X-Relay-Order: 1"), "not UTF-8"),
    ("kinds disagree", templated("refund", reminder_json(), "X-Relay-Kind: dunning",
                                 "X-Relay-Order: 1"), "disagree"),
    ("unknown layout", b"From: info@shop.example.com\r\nSubject: x\r\nX-Relay-Layout: fancy\r\n"
     b"Content-Type: text/html\r\n\r\n<p>x</p>\r\n", "X-Relay-Layout 'fancy' is unknown"),
    ("layout without HTML", b"From: info@shop.example.com\r\nSubject: x\r\nX-Relay-Layout: shop"
     b"\r\n\r\nplain text\r\n", "needs an HTML part"),
    ("layout with cid: images", b"From: info@shop.example.com\r\nSubject: x\r\n"
     b"X-Relay-Layout: shop\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo\">\r\n",
     "without inline images"),
]  # fmt: skip


def test_bad_input_is_refused_at_data_and_nothing_is_queued(
    relay: RelayProcess, tmp_path: Path
) -> None:
    # A template of the shop's own that prints an optional value without guarding it: accepted
    # when stored (the sample data has it), refused for a message that leaves it out, never
    # sent with a blank.
    own = relay.run("shop", "template", SHOP, "refund", "--show").stdout
    own = own.replace("=== text ===", "=== text ===\nErstattet als: {{ refund_method }}", 1)
    (tmp_path / "refund.tpl").write_text(own)
    relay.run("shop", "template", SHOP, "refund", "--from-file", str(tmp_path / "refund.tpl"))
    data = {k: v for k, v in sample_data("refund", "de").items() if k != "refund_method"}
    cases = [
        *BAD_INPUTS,
        ("a value the template needs",
         templated("refund", json.dumps({"data": data}).encode(), "X-Relay-Order: 1"),
         "shop:refund/de/body.txt, line 1: a value printed here is empty"),
        ("unknown kind", templated("newsletter", reminder_json(), "X-Relay-Order: 1"),
         "550 5.7.1 Unknown X-Relay-Kind 'newsletter'"),
    ]  # fmt: skip
    for what, message, words in cases:
        dialogue = send(relay, tmp_path, message)
        # swaks marks a server's error reply "<** " (in clear) or "<~* " (over TLS).
        replies = re.findall(r"^<[*~]\* +(5\d\d .*)$", dialogue, re.M)
        assert replies, f"{what}: not refused:\n{dialogue}"
        reply = replies[-1]
        code = "550 5.7.1" if what == "unknown kind" else "550 5.6.0"
        assert reply.startswith(code) and words in reply, f"{what}: {reply}"
        assert len(reply.encode()) + 2 <= 512 and reply.isascii(), what
    assert stored_count(relay) == 0
    assert relay.recipients() == []


def test_a_broken_stored_template_is_refused_with_its_line(
    relay: RelayProcess, tmp_path: Path
) -> None:
    # A row no check saw (written by hand, or by a version whose checks were weaker).
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    conn.execute(
        "INSERT INTO shop_templates (shop, kind, language, source, updated_at) VALUES"
        " (?, 'payment-reminder', 'de', ?, 0)",
        (SHOP, "=== subject ===\nHallo\n=== html ===\n<mjml>\n{% if %}\n=== text ===\nx\n"),
    )
    conn.commit()
    conn.close()
    dialogue = send(relay, tmp_path, templated("payment-reminder", reminder_json(),
                                               "X-Relay-Order: 1"))  # fmt: skip
    assert re.search(r"550 5\.6\.0 Not rendered: shop:payment-reminder/de/body\.mjml, line 2: "
                     r"syntax error", dialogue), dialogue  # fmt: skip
    assert stored_count(relay) == 0


@pytest.mark.parametrize("field", ["to", "bcc"])
def test_to_comes_from_the_header_else_the_envelope(
    relay: RelayProcess, postfix: PostfixRig, tmp_path: Path, field: str
) -> None:
    archive = f"archiv@{names.CUSTOMER_DOMAIN}"
    body = reminder_json()
    if field == "to":  # no To header: the envelope recipients are the To
        message = templated("payment-reminder", body, "X-Relay-Order: 7").replace(
            f"To: {names.CUSTOMER}\r\n".encode(), b""
        )
        queue_id(send(relay, tmp_path, message, to=names.CUSTOMER))
        relay.wait_state(names.CUSTOMER, {"delivered"})
        got = postfix.wait_for_messages(names.CUSTOMER)[0]
        assert email.message_from_bytes(got)["To"] == names.CUSTOMER
        return
    # A To header and an archive copy on the envelope only: the customer never sees it.
    message = templated("payment-reminder", body, "X-Relay-Order: 8",
                        to=f"Erika Mustermann <{names.CUSTOMER}>")  # fmt: skip
    queue_id(send(relay, tmp_path, message, to=f"{names.CUSTOMER},{archive}"))
    relay.wait_state(archive, {"delivered"})
    got = postfix.wait_for_messages(names.CUSTOMER)[0]
    assert "archiv" not in str(email.message_from_bytes(got, policy=email.policy.default)["To"])
    assert "Erika Mustermann" in str(
        email.message_from_bytes(got, policy=email.policy.default)["To"]
    )


def spam_points(message: bytes) -> tuple[float, dict[str, float]]:
    """SpamAssassin with local tests only (-L) and its report: the score and each rule's
    points (the report's "pts rule" table)."""
    require("spamassassin")
    done = subprocess.run(
        ["spamassassin", "-L", "-t", "--cf=score ALL_TRUSTED 0"],
        input=message, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    text = done.stdout.decode(errors="replace")
    status = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", text, re.M)
    assert status, text[:2000]
    points = {
        m[2]: float(m[1]) for m in re.finditer(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", text, re.M)
    }
    return float(status.group(1)), points
