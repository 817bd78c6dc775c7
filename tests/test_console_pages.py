"""The console's pages against its real HTTP listener (in this process): one shop never reaches
another's orders, messages, problems or settings (404 on every route), the pages speak the
shop's language and switch, the message is shown sanitised in a sandboxed frame, and every
change goes through the action the CLI uses."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from relay.http.console.pages import FRAME_POLICY, PAGE_POLICY
from relay.model import RecipientPlan, State
from relay.store.days import count
from relay.store.history import recipients_of
from relay.store.messages import insert_message
from relay.store.problems import get_problem, open_problem
from relay.store.shops import get_shop
from relay.store.suppression import add_block, add_optout
from tests.console_app import (
    PASSWORD_A,
    PASSWORD_B,
    SENDER_B,
    SHOP_A,
    SHOP_B,
    Client,
    Console,
    cli,
    running_console,
)
from tests.store_fixtures import Message

CUSTOMER = "kunde@shop-customers.example.com"
OPTED_OUT = "eva@shop-customers.example.com"
HOSTILE = (
    '<p>Guten Tag</p><script>document.title="pwned"</script>'
    '<img src="x" onerror="document.title=\'pwned\'">'
    '<a href="javascript:alert(1)">Zahlen</a>'
    '<img src="http://127.0.0.1:9/pixel.gif" alt="pixel">'
    '<div style="background:url(http://127.0.0.1:9/bg)">x</div>'
    '<meta http-equiv="refresh" content="0;url=http://127.0.0.1:9/">'
    '<form action="http://127.0.0.1:9/f"><input name="card"></form>'
)


@dataclass
class Seeded:
    console: Console
    a: Client
    reminder: str
    refund: str
    hostile: str
    b_message: str
    a_problem: int
    b_problem: int


def _problem(console: Console, shop: str, message: str) -> int:
    """A problem as the outcome of a bounced mandatory message opens it."""
    first = recipients_of(console.db.read(), [message])[message][0]
    with console.db.transaction() as tx:
        made = open_problem(
            tx, shop=shop, message=message, recipient=first["id"], address=first["address"],
            kind="dunning", order_ref=None, cause="bounced", reason="userunknown",
            at=time.time(),
        )  # fmt: skip
    assert made is not None
    return made


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with running_console(tmp_path_factory.mktemp("console")) as console:
        with console.db.transaction() as tx:
            add_optout(tx, SHOP_A, OPTED_OUT, "refund", "link")
        reminder = console.submit(SHOP_A, CUSTOMER, kind="payment-reminder", order="1001")
        refund = console.submit(SHOP_A, OPTED_OUT, kind="refund", order="1001")
        hostile = console.submit(SHOP_A, "max@gmial.com", kind="payment-info", order="1002",
                                 html=HOSTILE)  # fmt: skip
        b_message = console.submit(SHOP_B, "bob@shop-customers.example.com", kind="dunning",
                                   order="B-7", sender=SENDER_B)  # fmt: skip
        a_problem = _problem(console, SHOP_A, reminder)
        b_problem = _problem(console, SHOP_B, b_message)
        a = console.client()
        assert a.login(SHOP_A, PASSWORD_A).status == 303
        yield Seeded(console, a, reminder, refund, hostile, b_message, a_problem, b_problem)


def test_another_shops_ids_are_not_found_on_every_route(seeded: Seeded) -> None:
    a, b_id = seeded.a, seeded.b_message
    unknown = uuid.uuid4().hex.upper()[:17]
    pairs = [
        ("/console/orders/B-7", "/console/orders/NO-SUCH-ORDER"),
        (f"/console/messages/{b_id}", f"/console/messages/{unknown}"),
        (f"/console/messages/{b_id}/view", f"/console/messages/{unknown}/view"),
    ]
    for foreign, missing in pairs:
        one, other = a.get(foreign), a.get(missing)
        assert one.status == other.status == 404, foreign
        # Nothing tells that the id exists elsewhere (the pages differ in their own URL only).
        assert one.text.replace(foreign, "URL") == other.text.replace(missing, "URL")
    token = a.token()
    refused = a.post(f"/console/problems/{seeded.b_problem}/ack", {"csrf": token})
    assert refused.status == 404
    assert get_problem(seeded.console.db.read(), seeded.b_problem).acked_at is None
    for search in ("B-7", "bob@shop-customers.example.com"):
        found = a.get(f"/console/orders?q={search}")
        assert found.status == 200 and "Keine Bestellungen gefunden." in found.text
        assert "/console/orders/B-7" not in found.text
    # Settings, design and DNS have no id to change: they are the session's shop's, whatever
    # the URL says.
    for path in ("/console/settings?shop=shop-b", "/console/design?shop=shop-b",
                 "/console/dns?shop=shop-b", "/console/problems?shop=shop-b"):  # fmt: skip
        page = a.get(path)
        assert page.status == 200 and "bare-shop.example.com" not in page.text, path
    assert a.get("/console/shops/shop-b/settings").status == 404


def test_an_order_in_words_in_the_shops_language_and_in_english(seeded: Seeded) -> None:
    client = seeded.console.client()
    client.login(SHOP_A, PASSWORD_A)
    page = client.get("/console/orders/1001")
    assert page.status == 200 and 'lang="de"' in page.text
    assert "Zahlungserinnerung" in page.text and "Erstattungsbestätigung" in page.text
    assert re.search(r"nicht gesendet: der Kunde hat sich am \S+ von Erstattungsbestätigungen"
                     r" abgemeldet", page.text)  # fmt: skip
    english = client.get("/console/orders/1001?lang=en")
    assert 'lang="en"' in english.text and "Payment reminder" in english.text
    assert re.search(r"not sent: customer opted out of refund confirmations on", english.text)
    remembered = client.get("/console/orders/1001")  # no ?lang=: the choice was kept
    assert 'lang="en"' in remembered.text and "Order 1001" in remembered.text
    client.get("/console/?lang=de")


def test_the_typo_warning_and_the_message_in_a_sandboxed_frame(seeded: Seeded) -> None:
    a = seeded.a
    order = a.get("/console/orders/1002")
    assert "Möglicher Tippfehler" in order.text and "gmail.com" in order.text
    page = a.get(f"/console/messages/{seeded.hostile}")
    frame = re.search(r"<iframe[^>]*>", page.text).group(0)
    assert 'sandbox=""' in frame and "allow-" not in frame
    assert f'src="/console/messages/{seeded.hostile}/view"' in frame
    view = a.get(f"/console/messages/{seeded.hostile}/view")
    assert view.status == 200
    assert view.headers["Content-Security-Policy"] == FRAME_POLICY
    assert view.headers["X-Frame-Options"] == "SAMEORIGIN"
    body = view.text.lower()
    assert "guten tag" in body
    for gone in ("<script", "onerror", "javascript:", "127.0.0.1", "<form", "<meta http-equiv",
                 "url("):  # fmt: skip
        assert gone not in body, gone


def test_every_page_has_its_policy_and_is_never_framed(seeded: Seeded) -> None:
    a = seeded.a
    for path in ("/console/", "/console/orders", "/console/orders/1001", "/console/settings",
                 "/console/design", "/console/problems", f"/console/messages/{seeded.reminder}",
                 "/console/nope"):  # fmt: skip
        reply = a.get(path)
        assert reply.headers["Content-Security-Policy"] == PAGE_POLICY, path
        assert reply.headers["X-Frame-Options"] == "DENY", path
        assert reply.headers["Cache-Control"] == "no-store", path
        assert "<script>" not in reply.text and " style=" not in reply.text, path
    login = seeded.console.client().get("/console/login")
    assert login.headers["Content-Security-Policy"] == PAGE_POLICY
    assert "'unsafe-inline'" not in PAGE_POLICY and "frame-ancestors 'none'" in PAGE_POLICY
    assert a.get("/console/nope").status == 404
    assert "Nicht gefunden" in a.get("/console/nope").text


def test_settings_change_through_the_shop_actions(seeded: Seeded) -> None:
    console, client = seeded.console, seeded.console.client()
    client.login(SHOP_B, PASSWORD_B)
    token = client.token("/console/settings")
    bad = {"csrf": token, "sender": "info@elsewhere.example.org", "sender_name": "B",
           "language": "en", "kind": "refund"}  # fmt: skip
    refused = client.post("/console/settings", bad)
    assert refused.status == 422 and "is not at the shop&#39;s domains" in refused.text
    assert get_shop(console.db.read(), SHOP_B).sender == SENDER_B
    kinds = ["payment-info", "payment-reminder", "dunning", "payment-received"]  # no refund
    form = [("csrf", token), ("sender", SENDER_B), ("sender_name", "Bob's Bikes"),
            ("language", "de")] + [("kind", k) for k in kinds]  # fmt: skip
    saved = client.post("/console/settings", form)
    assert (saved.status, saved.location) == (303, "/console/settings?saved=1")
    shop = get_shop(console.db.read(), SHOP_B)
    assert (shop.sender_name, shop.language) == ("Bob's Bikes", "de")
    listed = json.loads(cli(console.root, "shop", "kinds", SHOP_B, "--json"))
    assert [k["kind"] for k in listed if not k["enabled"]] == ["refund"]
    assert "Gespeichert." in client.get("/console/settings?saved=1").text


def test_design_preview_save_and_test_email(seeded: Seeded) -> None:
    console, a = seeded.console, seeded.a
    preview = a.get("/console/design/preview?kind=dunning&language=en&primary=%23b4153c")
    assert preview.status == 200 and "#b4153c" in preview.text
    assert preview.headers["Content-Security-Policy"] == FRAME_POLICY
    unreadable = a.get("/console/design/preview?primary=%23ffff00")  # yellow on white
    assert unreadable.status == 422 and "Hauptfarbe" in unreadable.text
    token = a.token("/console/design")
    form = {"csrf": token, "primary": "#0f5132", "text": "#1f2937", "background": "#ffffff",
            "font": "Georgia, serif", "footer": "Shop A GmbH\nHauptstr. 1",
            "language": "de"}  # fmt: skip
    assert a.post("/console/design", {**form, "primary": "#fafafa"}).status == 422
    assert a.post("/console/design", form).location == "/console/design?saved=1"
    shown = json.loads(cli(console.root, "shop", "design", SHOP_A, "--json"))
    assert (shown["primary"], shown["footer"]) == ("#0f5132", "Shop A GmbH\nHauptstr. 1")
    sent = a.post("/console/design/test-email", {"csrf": token, "to": "probe@example.org",
                                                  "kind": "payment-reminder"})  # fmt: skip
    assert sent.status == 303 and sent.location.startswith("/console/design?sent=")
    message_id = sent.location.rsplit("=", 1)[1]
    detail = json.loads(cli(console.root, "message", "show", message_id, "--json"))
    assert detail["test"] and detail["client"] == "relay test-email"
    assert detail["recipients"][0]["address"] == "probe@example.org"
    notice = a.get(sent.location)
    assert "Test-E-Mail an probe@example.org eingereiht" in notice.text
    bad = a.post("/console/design/test-email", {"csrf": token, "to": "not an address"})
    assert bad.status == 422


def test_a_header_image_upload_is_checked_and_stored(seeded: Seeded) -> None:
    a = seeded.a
    token = a.token("/console/design")
    png = (Path(__file__).parent / "data" / "render" / "header.png").read_bytes()
    for data, status in ((b"GIF89a not an image", 422), (png, 303)):
        body, content_type = _multipart({"csrf": token}, "header_image", "logo.png", data)
        reply = a.request("POST", "/console/design", body, {"Content-Type": content_type})
        assert reply.status == status
    shown = json.loads(cli(seeded.console.root, "shop", "design", SHOP_A, "--json"))
    assert shown["header_image"]["type"] == "image/png"
    too_big, content_type = _multipart({"csrf": token}, "header_image", "x.png", b"0" * 600_000)
    assert (
        a.request("POST", "/console/design", too_big, {"Content-Type": content_type}).status == 413
    )


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
        f"\r\nContent-Type: image/png\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_problems_are_acknowledged_by_the_console_user(seeded: Seeded) -> None:
    a = seeded.a
    page = a.get("/console/problems")
    assert "Erreichen Sie ihn auf anderem Weg" in page.text
    assert f"/console/problems/{seeded.a_problem}/ack" in page.text
    assert f"/console/problems/{seeded.b_problem}/ack" not in page.text
    assert "eva@shop-customers.example.com" in page.text  # the opt-out
    done = a.post(f"/console/problems/{seeded.a_problem}/ack", {"csrf": a.token()})
    assert (done.status, done.location) == (303, "/console/problems?acked=1")
    problem = get_problem(seeded.console.db.read(), seeded.a_problem)
    assert problem.acked_by == "console:shop-a"


def test_the_30_day_picture_is_the_figures_of_relay_status(seeded: Seeded) -> None:
    console, a = seeded.console, seeded.a
    now = time.time()
    with console.db.transaction() as tx:
        for kind, times in (("delivered", 12), ("bounced", 2), ("complained", 1)):
            for _ in range(times):
                count(tx, SHOP_A, kind, now)
    page = a.get("/console/")
    assert '<svg class="plot" viewBox="0 0 600' in page.text and 'role="img"' in page.text
    assert ": 12 zugestellt</title>" in page.text and ": 1 Beschwerden</title>" in page.text
    status = json.loads(cli(console.root, "status", "--json"))
    rates = next(r for r in status["rates"] if r["shop"] == SHOP_A)
    assert rates["bounce_rate"]["count"] == 2 and rates["bounce_rate"]["of"] == 14
    assert "Bounce-Quote" in page.text and "(2 von 14)" in page.text
    assert "zu wenige E-Mails für eine Aussage" in page.text  # fewer than 100 in 7 days


def test_the_order_list_pages_by_keyset(seeded: Seeded) -> None:
    console = seeded.console
    client = console.client()
    client.login(SHOP_B, PASSWORD_B)
    for number in range(27):
        console.submit(SHOP_B, f"c{number}@shop-customers.example.com", kind="dunning",
                       order=f"P-{number:02d}", sender=SENDER_B)  # fmt: skip
    first = client.get("/console/orders?lang=en")
    seen = re.findall(r'href="/console/orders/(P-\d\d)"', first.text)
    older = re.search(r'href="(/console/orders\?after=[^"]+)" rel="next"', first.text)
    assert len(seen) == 25 and older
    second = client.get(older.group(1).replace("&amp;", "&"))
    rest = re.findall(r'href="/console/orders/([PB]-\d+)"', second.text)
    assert set(rest).isdisjoint(seen) and len(seen) + len(rest) == 28  # 27 + B-7
    assert seen[0] == "P-26" and rest[-1] == "B-7"


# --- review 3: a test e-mail is in no customer's order and opens no problem ------------------

STAFF = "inhaber@shop.example.com"


def _api(console: Console, path: str) -> dict:
    token = json.loads(cli(console.root, "shop", "token", "create", SHOP_A, "--json"))["token"]
    answer = console.client().get(path, {"Authorization": f"Bearer {token}"})
    assert answer.status == 200, answer.text
    return json.loads(answer.text)


def _console_test_email(console: Console, to: str) -> Client:
    client = console.client()
    assert client.login(SHOP_A, PASSWORD_A).status == 303
    sent = client.post(
        "/console/design/test-email",
        {"csrf": client.token("/console/design"), "to": to, "kind": "payment-reminder"},
    )
    assert sent.status == 303, sent.text[:300]
    return client


def test_a_test_email_is_not_in_a_customers_order(tmp_path: Path) -> None:
    """Review 3: every test e-mail carried the sample's order number, 10023 (what most shop
    systems' order numbers look like), and showed in that order's history: the order API and
    the console's order page. Its order number is marked now ("TEST-10023", in the text too),
    and a test is in no order's list, whatever order it carries."""
    with running_console(tmp_path) as console:
        real = console.submit(SHOP_A, "kunde@example.org", kind="payment-reminder", order="10023")
        client = _console_test_email(console, STAFF)
        order = _api(console, "/api/v1/orders/10023/messages")
        assert [m["id"] for m in order["messages"]] == [real]
        assert client.get("/console/orders/10023").text.count("/console/messages/") == 1
        listed = client.get("/console/orders")
        assert "TEST-10023" not in listed.text and ">Test</span>" in listed.text


def test_a_test_email_that_cannot_be_delivered_opens_no_problem(tmp_path: Path) -> None:
    """Review 3: a test of a mandatory kind to a blocked address opened a problem, "reach the
    customer another way (by post)"; a test reaches the shop's staff, not a customer."""
    with running_console(tmp_path) as console:
        with console.db.transaction() as tx:
            add_block(tx, STAFF, "complaint", "arf")
        _console_test_email(console, STAFF)  # suppressed: the address is blocked
        assert _api(console, "/api/v1/problems")["problems"] == []


# --- review 3: a customer's address is found however it is cased ----------------------------

CAPITALS = "Max.Mustermann@example.org"


@pytest.mark.parametrize("typed", [CAPITALS, CAPITALS.lower()])
def test_an_order_is_found_by_its_customers_address_however_it_is_cased(
    tmp_path: Path, typed: str
) -> None:
    """Review 3: submission keeps the local part as written (RFC 5321 §2.4), and the search
    compared the stored `Max.Mustermann@...` with the lower-cased query: the shop's staff,
    pasting the address from their shop system, were told there is no such order."""
    with running_console(tmp_path) as console:
        console.submit(SHOP_A, CAPITALS, kind="payment-reminder", order="A-4711")
        client = console.client()
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        by_number = client.get("/console/orders?q=A-4711")
        assert "A-4711" in by_number.text  # the order is there
        by_address = client.get(f"/console/orders?q={typed}")
        assert by_address.status == 200
        assert "A-4711" in by_address.text


# --- review 3: the language switch of a page answered to a POST -----------------------------


def test_switching_language_after_a_refused_test_email_shows_a_console_page(
    tmp_path: Path,
) -> None:
    """Review 3: the switch of a page answered to a POST was "the GET of its path with lang=",
    and `/console/design/test-email` has no GET: a bare "405: Method Not Allowed"."""
    with running_console(tmp_path) as console:
        client = console.client()
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        refused = client.post(
            "/console/design/test-email", {"csrf": client.token(), "to": "not an address"}
        )
        assert refused.status == 422
        switch = next(
            link.replace("&amp;", "&")
            for link in re.findall(r'href="([^"]+)"', refused.text)
            if "lang=en" in link
        )
        assert switch == "/console/design?lang=en"  # the page the form is on
        page = client.get(switch)
        if page.status in (302, 303):
            page = client.get(page.location)
        assert page.status == 200, f"GET {switch}: {page.status} {page.text[:60]!r}"
        assert '<html lang="en"' in page.text
        # The GET of a form's address itself is a console page too, in either language.
        for path, words in (("/console/dns/check?lang=de", "nimmt nur ein abgeschicktes"),
                            ("/console/dns/check?lang=en", "only takes a form")):  # fmt: skip
            answer = client.get(path)
            assert answer.status == 405 and words in answer.text, answer.text[:200]
            assert answer.headers["Allow"] == "POST"
            assert answer.headers["Content-Security-Policy"] == PAGE_POLICY
            assert 'href="/console/dns"' in answer.text  # the navigation of a logged-in shop


# --- review 3: a list that is cut says so ----------------------------------------------------


def test_an_order_or_problem_list_that_is_cut_says_how_many_there_are(tmp_path: Path) -> None:
    """Review 3 (noticed): an order's messages and the problems were cut at 200 without a
    word, on the console and in the API."""
    with running_console(tmp_path) as console:
        now = time.time()
        with console.db.transaction() as tx:
            for n in range(201):
                plan = RecipientPlan(f"k{n}@example.org", "example.org", State.QUEUED)
                stored = Message(f"BIG{n:05d}", SHOP_A, [plan], order_ref="BIG", created_at=now)
                insert_message(tx, stored, "info@shop.example.com", "test")
        for n in range(201):
            _problem(console, SHOP_A, f"BIG{n:05d}")
        client = console.client()
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        order = client.get("/console/orders/BIG?lang=en").text
        assert "The first 200 of this order&#39;s 201 e-mails are shown." in order
        problems = client.get("/console/problems?lang=en").text
        assert "The newest 200 of 201 cases are shown." in problems
        token = json.loads(cli(console.root, "shop", "token", "create", SHOP_A, "--json"))
        auth = {"Authorization": f"Bearer {token['token']}"}
        listed = json.loads(client.get("/api/v1/orders/BIG/messages", auth).text)
        assert (listed["total"], len(listed["messages"])) == (201, 200)
        listed = json.loads(client.get("/api/v1/problems", auth).text)
        assert (listed["total"], len(listed["problems"])) == (201, 200)
        small = client.get(f"/console/orders/{quote('A-1')}")  # nothing cut: nothing said
        assert "are shown" not in small.text and "werden die ersten" not in small.text
