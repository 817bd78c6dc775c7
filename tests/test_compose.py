"""relay.compose: rendering with the shop's stored design and templates, into the submission
path (prepare) with the template and the test mark in the history. A real SQLite store on disk,
the real renderer; no fakes."""

from __future__ import annotations

import email
import email.policy
import json
import random
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from relay.actions import design as design_actions
from relay.actions import templates as template_actions
from relay.compose import DesignCache, TemplateRequest, compose
from relay.keys import new_dkim_key
from relay.model import Shop
from relay.prepare.identity import Fallback
from relay.prepare.pipeline import Rejection, Settings
from relay.render import Design, RenderError, default_template, sample_data
from relay.store.db import Database, open_database
from relay.store.messages import history
from relay.store.shops import get_shop, insert_shop
from relay.submit import submit_now

HEADER = Path(__file__).parent / "data" / "render" / "header.png"
KEY = new_dkim_key()
SETTINGS = Settings(
    "relay.example.net",
    "https://relay.example.net",
    "bounces.relay.example.net",
    b"s" * 32,
    Fallback("shops@relay.example.net", "relay.example.net", "relay", KEY),
)


def shop(name: str = "moebel", language: str = "de") -> Shop:
    return Shop(
        name=name,
        domains=("shop.example.com",),
        sender="info@shop.example.com",
        sender_name="Möbel Müller",
        language=language,
        password_hash="x",
        dkim_selector="s1",
        dkim_private_key=KEY,
    )


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database("sqlite:///relay.db", tmp_path, create=True)
    with database.transaction() as tx:
        insert_shop(tx, shop())
        insert_shop(tx, shop("english", language="en"))
    return database


def set_design(db: Database, name: str, **changes: object) -> None:
    found = get_shop(db.read(), name)
    assert found is not None
    change = design_actions.plan_design(db.read(), found, changes)
    with db.transaction() as tx:
        design_actions.save(tx, name, change)


def request(kind: str = "payment-reminder", **fields: object) -> TemplateRequest:
    language = str(fields.pop("data_language", "de"))
    values = {"to": ("max@example.org",), "data": sample_data(kind, language), "order": "10023"}
    values.update(fields)
    return TemplateRequest(kind, **values)  # type: ignore[arg-type]


def parsed(message: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(message, policy=email.policy.default)  # type: ignore[return-value]


def html_of(message: bytes) -> str:
    part = parsed(message).get_body(("html",))
    assert part is not None
    return part.get_content()


def test_the_shops_stored_design_and_language_are_used(db: Database) -> None:
    set_design(db, "moebel", header_image=HEADER.read_bytes(), primary="#b4153c", language="en")
    message = compose(db.read(), shop(), request(data_language="en"))
    html = html_of(message)
    assert "#b4153c" in html and "Payment reminder" in parsed(message)["Subject"]
    images = [p for p in parsed(message).walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0].get_content() == HEADER.read_bytes()
    # Without a design the shop's own language, the default colours and no image.
    plain = compose(db.read(), shop("english", "en"), request(data_language="en"))
    assert "#b4153c" not in html_of(plain)
    assert not [p for p in parsed(plain).walk() if p.get_content_maintype() == "image"]


def test_a_design_change_is_seen_by_the_next_message(db: Database) -> None:
    set_design(db, "moebel", primary="#b4153c")
    assert "#b4153c" in html_of(compose(db.read(), shop(), request()))
    set_design(db, "moebel", primary="#0b3d2e")  # a new digest: nothing stale is served
    html = html_of(compose(db.read(), shop(), request()))
    assert "#0b3d2e" in html and "#b4153c" not in html


def test_the_shops_own_template_renders_and_the_history_names_it(db: Database) -> None:
    own = default_template("payment-reminder", "de").to_file_text()
    own = own.replace("Zahlungserinnerung zu Ihrer Bestellung", "Eine freundliche Erinnerung:", 1)
    found = get_shop(db.read(), "moebel")
    assert found is not None
    checked = template_actions.plan_template(db.read(), found, "payment-reminder", "de", own)
    with db.transaction() as tx:
        template_actions.save(tx, found, checked)
    message = compose(db.read(), found, request(test=True))
    assert parsed(message)["Subject"] == "Eine freundliche Erinnerung: 10023"
    prepared = submit_now(db, "moebel", found.sender, ["max@example.org"], message, "t", SETTINGS)
    row = history(db.read(), shop="moebel")[0]
    assert row["template"] == prepared.template == checked.reference
    assert row["template"].startswith("payment-reminder/de shop ")
    assert row["test"] is True and row["order_ref"] == "10023"
    stored = bytes(sqlite3.connect(db.path).execute("SELECT body FROM messages").fetchone()[0])
    assert b"X-Relay-" not in stored  # the markers are read and removed


def test_several_recipients_see_none_of_each_others_addresses(db: Database) -> None:
    """One message goes to every recipient: a To naming them all would show each customer the
    others' addresses (RFC 5322 3.4: the empty group `undisclosed-recipients:;`)."""
    message = compose(db.read(), shop(), request(to=("max@example.org", "eva@example.org")))
    assert parsed(message)["To"] == "undisclosed-recipients:;"
    assert b"max@example.org" not in message and b"eva@example.org" not in message


def test_one_recipient_is_the_to(db: Database) -> None:
    message = compose(db.read(), shop(), request(to=("max@example.org",)))
    assert parsed(message)["To"] == "max@example.org"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"kind": "newsletter"}, "unknown kind 'newsletter'; this shop knows: dunning"),
        ({"to": ()}, "name at least one recipient"),
        ({"to": "max@example.org"}, "name at least one recipient"),
        ({"data": {"amount": "12.00"}}, "missing value for .due_date. \\(date\\)"),
        ({"data": {**sample_data("payment-reminder", "de"), "paymnet_link": "x"}}, "paymnet_link"),
        ({"data": {**sample_data("payment-reminder", "de"), "amount": "zwölf"}}, "amount"),
        ({"language": "fr"}, "language 'fr' is not one of de, en"),
        ({"order": None}, "needs the order number"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    db: Database, changes: dict[str, object], words: str
) -> None:
    kind = str(changes.pop("kind", "payment-reminder"))
    base = request()
    values = {"to": base.to, "data": base.data, "order": base.order, **changes}
    with pytest.raises(RenderError, match=words):
        compose(db.read(), shop(), TemplateRequest(kind, **values))  # type: ignore[arg-type]


def test_a_removed_shop_can_no_longer_submit(db: Database) -> None:
    from relay.actions.shops import remove
    from relay.submit import ShopGone

    message = compose(db.read(), shop(), request())
    with db.transaction() as tx:
        remove(tx, "moebel")
    assert get_shop(db.read(), "moebel") is None
    with pytest.raises(ShopGone):
        submit_now(
            db, "moebel", "info@shop.example.com", ["max@example.org"], message, "t", SETTINGS
        )


def test_x_relay_test_from_smtp_marks_only_the_shops_own_history(db: Database) -> None:
    raw = (
        b"From: info@shop.example.com\r\nTo: max@example.org\r\nSubject: x\r\n"
        b"X-Relay-Test: yes\r\nX-Relay-Rendered: payment-reminder/de default 000000000000\r\n"
        b"\r\nhello\r\n"
    )
    prepared = submit_now(
        db, "moebel", "info@shop.example.com", ["max@example.org"], raw, "t", SETTINGS
    )
    assert prepared.test and prepared.template  # labels of its own row, nothing else
    with pytest.raises(Rejection, match=r"550 5\.7\.1"):  # still the shop's own From only
        submit_now(
            db,
            "moebel",
            "x@other.example",
            ["max@example.org"],
            raw.replace(b"info@shop.example.com", b"x@other.example"),
            "t",
            SETTINGS,
        )


def _templated(body: bytes, *headers: str) -> bytes:
    head = [
        "From: info@shop.example.com",
        "To: Erika Mustermann <erika@example.org>, max@example.org",
        "X-Relay-Template: payment-reminder",
        "X-Relay-Order: 10023",
        "Content-Type: application/json; charset=utf-8",
        *headers,
    ]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body + b"\r\n"


@pytest.mark.parametrize("encoding", ["8bit", "quoted-printable", "base64"])
def test_the_json_body_may_come_in_any_transfer_encoding(db: Database, encoding: str) -> None:
    import base64
    import quopri

    body = json.dumps({"data": sample_data("payment-reminder", "de")}, ensure_ascii=False)
    raw = body.encode()
    encoded = {
        "8bit": raw,
        "quoted-printable": quopri.encodestring(raw).replace(b"\n", b"\r\n"),
        "base64": base64.encodebytes(raw).replace(b"\n", b"\r\n"),
    }[encoding]
    message = _templated(encoded, f"Content-Transfer-Encoding: {encoding}")
    prepared = submit_now(
        db,
        "moebel",
        "info@shop.example.com",
        ["erika@example.org", "max@example.org"],
        message,
        "t",
        SETTINGS,
    )
    sent = parsed(prepared.body)
    assert str(sent["Subject"]) == "Zahlungserinnerung zu Ihrer Bestellung 10023"
    assert str(sent["To"]) == "Erika Mustermann <erika@example.org>, max@example.org"
    assert "Guten Tag Erika Mustermann" in html_of(prepared.body)
    assert prepared.template and prepared.template.startswith("payment-reminder/de default")


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("Content-Transfer-Encoding: x-uuencode",), "unknown Content-Transfer-Encoding"),
        (("From: info@shop.example.com",), "more than one From header"),
        (("X-Relay-Layout: shop",), "not both"),
    ],
)
def test_headers_that_make_no_sense_are_refused(
    db: Database, extra: tuple[str, ...], words: str
) -> None:
    message = _templated(
        json.dumps({"data": sample_data("payment-reminder", "de")}).encode(), *extra
    )
    with pytest.raises(Rejection, match=words) as refused:
        submit_now(
            db, "moebel", "info@shop.example.com", ["erika@example.org"], message, "t", SETTINGS
        )
    assert refused.value.reply.startswith("550 5.6.0 Not rendered: ")
    assert history(db.read()) == []


def test_a_design_row_edited_into_nonsense_is_refused_and_can_be_replaced(db: Database) -> None:
    set_design(db, "moebel", primary="#b4153c")
    conn = sqlite3.connect(db.path)
    conn.execute("UPDATE shop_designs SET fields = ?, digest = 'edited'", ('{"primary": "red"}',))
    conn.commit()
    conn.close()
    with pytest.raises(RenderError, match="'red' is not a hex colour"):  # never sent half-right
        compose(db.read(), shop(), request())
    set_design(db, "moebel", primary="#0b3d2e")  # the next change starts from the default
    assert "#0b3d2e" in html_of(compose(db.read(), shop(), request()))


def test_the_design_cache_holds_under_threads() -> None:
    """Review 3 (noticed): the render thread and the preview threads shared the cache of
    validated designs without a lock: a lookup that moved a key another thread had just
    evicted raised KeyError inside a render. Many threads, a small cache, constant eviction."""
    cache, errors = DesignCache(4), []
    designs = [Design(language="de") for _ in range(2)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows

    def hammer(seed: int) -> None:
        pick = random.Random(seed)
        try:
            for _ in range(50_000):
                digest = f"d{pick.randrange(12)}"
                if cache.get(digest) is None:
                    cache.put(digest, designs[seed % 2])
        except Exception as exc:  # what the render would have raised
            errors.append(exc)

    try:
        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == [] and len(cache) <= 4
