"""The read model (relay/history.py) and its words in the shop's language (relay/explain.py,
relay/event_words.py): what the CLI, the API and the console show per order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relay.event_words import event_words
from relay.explain import explain, reason_words
from relay.history import message, order_messages
from relay.model import EventKind, RecipientPlan, State
from relay.store.events import add_event
from tests.store_fixtures import new_database, queue_message
from tests.test_bounce_reasons import SPEC_REASONS

DAY = time.mktime((2026, 7, 15, 12, 0, 0, 0, 0, 0))


@pytest.mark.parametrize("reason", sorted(SPEC_REASONS))
def test_every_reason_has_german_words(reason: str) -> None:
    german, english = reason_words(reason, "de"), reason_words(reason, "en")
    assert german and english and german != english
    said = explain({"state": "bounced", "reason": reason, "last_code": 550}, "de")
    opening = (
        "nicht zugestellt: " if reason == "expired" else "vom Server des Empfängers abgelehnt: "
    )
    assert said.startswith(opening) and german in said


@pytest.mark.parametrize(
    ("row", "german", "english"),
    [
        ({"state": "delivered"}, "zugestellt", "delivered"),
        ({"state": "queued"}, "wartet auf den Versand", "waiting to be sent"),
        (
            {"state": "delivered", "identity": "fallback"},
            "zugestellt; von der Adresse des Relays gesendet, weil Ihre Domain noch nicht"
            " eingerichtet ist (SPF/DKIM)",
            "delivered; sent from the relay's address because your domain is not set up (SPF/DKIM)",
        ),
        (
            {"state": "bounced", "reason": "mailboxfull", "last_code": 552, "last_status": "5.2.2"},
            "vom Server des Empfängers abgelehnt: das Postfach ist voll (552 5.2.2)",
            "rejected by the recipient's server: the mailbox is full (552 5.2.2)",
        ),
        (
            {"state": "failed", "reason": "invalid-address", "detail": "the address 'x' is not"},
            "nicht gesendet: die Adresse ist ungültig",
            "not sent: the address 'x' is not",
        ),
        (
            {
                "state": "suppressed",
                "reason": "blocked",
                "detail": "address blocked since 2026-07-01 (complaint)",
            },
            "nicht gesendet: Adresse seit 2026-07-01 nach einer Spam-Beschwerde gesperrt",
            "not sent: address blocked after a spam complaint (address blocked since"
            " 2026-07-01 (complaint))",
        ),
        (
            {
                "state": "suppressed",
                "reason": "blocked",
                "detail": "address blocked since 2026-07-01 (userunknown)",
            },
            "nicht gesendet: Adresse seit 2026-07-01 gesperrt (das Postfach existiert nicht)",
            "not sent: address blocked (address blocked since 2026-07-01 (userunknown))",
        ),
        (
            {
                "state": "suppressed",
                "reason": "opted-out",
                "kind": "refund",
                "detail": "customer opted out of refund confirmations on 2026-07-02",
            },
            "nicht gesendet: der Kunde hat sich am 2026-07-02 von Erstattungsbestätigungen"
            " abgemeldet",
            "not sent: customer opted out of refund confirmations on 2026-07-02",
        ),
        (
            {
                "state": "suppressed",
                "reason": "kind-disabled",
                "kind": "refund",
                "detail": "the shop has disabled refund messages",
            },
            "nicht gesendet: der Shop hat Erstattungsbestätigungen abgeschaltet",
            "not sent: the shop has disabled refund messages",
        ),
        (
            {"state": "deferred", "last_text": "try later", "next_attempt_at": DAY},
            f"verzögert, nächster Versuch {time.strftime('%Y-%m-%d %H:%M', time.gmtime(DAY))}"
            " UTC: try later",
            f"delayed, retrying at {time.strftime('%Y-%m-%d %H:%M', time.gmtime(DAY))} UTC:"
            " try later",
        ),
        (  # a server's deferral: its code
            {
                "state": "deferred",
                "last_text": "try later",
                "last_code": 450,
                "last_status": "4.2.0",
                "last_mx_host": "mx1.example.net",
                "next_attempt_at": DAY,
            },
            f"verzögert, nächster Versuch {time.strftime('%Y-%m-%d %H:%M', time.gmtime(DAY))}"
            " UTC: try later (450 4.2.0)",
            f"delayed, retrying at {time.strftime('%Y-%m-%d %H:%M', time.gmtime(DAY))} UTC:"
            " try later (450 4.2.0)",
        ),
        (  # the relay's own finding (no server reached): no code a server never sent
            {
                "state": "deferred",
                "last_text": "connection refused",
                "last_code": 451,
                "last_status": "4.4.1",
                "last_mx_host": None,
                "next_attempt_at": DAY,
            },
            f"verzögert, nächster Versuch {time.strftime('%Y-%m-%d %H:%M', time.gmtime(DAY))}"
            " UTC: connection refused",
            f"delayed, retrying at {time.strftime('%Y-%m-%d %H:%M', time.gmtime(DAY))} UTC:"
            " connection refused",
        ),
        (  # failed is always the relay's finding: its made-up code is never shown
            {
                "state": "failed",
                "reason": "hostunknown",
                "detail": "the relay's DNS lookup found no domain x.example.com (NXDOMAIN)",
                "last_code": 550,
                "last_status": "5.1.2",
            },
            "nicht gesendet: die Domain existiert nicht oder nimmt keine E-Mails an",
            "not sent: the relay's DNS lookup found no domain x.example.com (NXDOMAIN)",
        ),
    ],
)
def test_what_happened_in_both_languages(row: dict, german: str, english: str) -> None:
    assert explain(row, "de") == german
    assert explain(row, "en") == english == explain(row)  # the CLI keeps English


def test_event_words_in_both_languages() -> None:
    delivered = {"reply": "250 2.0.0 Ok", "mx": "mx1.example.net"}
    assert event_words("delivered", delivered) == "250 2.0.0 Ok (from mx1.example.net)"
    assert event_words("delivered", delivered, "de") == "250 2.0.0 Ok (von mx1.example.net)"
    late = {"report": 7, "late": True, "reason": "mailboxfull", "status": "5.2.2"}
    assert event_words("bounced", late, "de") == (
        "Unzustellbarkeitsbericht 7 nach der Zustellung: das Postfach ist voll 5.2.2"
    )
    assert event_words("accepted", {"recipients": 2, "identity": "shop"}) == (
        "for 2 recipients, signed as the shop"
    )
    trace = {"traceback": "Traceback...\nKeyError: 'x'"}
    assert "KeyError" not in event_words("quarantined", trace, "de")  # no internals for shops


def test_a_message_with_its_recipients_events_and_typo_warning(tmp_path: Path) -> None:
    db = new_database(tmp_path, "a", "b")
    plans = [
        RecipientPlan(
            "max@htmail.com",
            "htmail.com",
            State.QUEUED,
            warnings=("the domain htmail.com looks like a typo of hotmail.com",),
        ),
        RecipientPlan(
            "eva@example.org",
            "example.org",
            State.SUPPRESSED,
            "blocked",
            "address blocked since 2026-07-01 (complaint)",
        ),
    ]
    from relay.store.messages import insert_message
    from tests.store_fixtures import Message

    with db.transaction() as tx:
        insert_message(tx, Message("MSG-A", "a", plans, order_ref="4711"), "i@a.example", "api")
        add_event(tx, EventKind.DELIVERED, shop="a", message="MSG-A", recipient=1, mx="mx.example")
    queue_message(db, "z@example.org", shop="b", order_ref="4711")
    view = message(db.read(), "MSG-A", shop="a", language="de")
    assert view is not None and view.order == "4711" and view.kind_words == "Mahnungen"
    typo, blocked = view.recipients
    assert (
        typo.typo_warning == "die Domain htmail.com sieht nach einem Tippfehler für hotmail.com aus"
    )
    assert blocked.text.startswith("nicht gesendet: Adresse seit 2026-07-01")
    assert [e.kind for e in view.events][:2] == ["accepted", "warning"]
    assert view.events[-1].recipient == "max@htmail.com"
    assert message(db.read(), "MSG-A", shop="b") is None  # another shop's id: nothing
    assert [m.id for m in order_messages(db.read(), "a", "4711", "en")] == ["MSG-A"]
    assert len(order_messages(db.read(), "b", "4711", "en")) == 1
    record = message(db.read(), "MSG-A").as_record()  # type: ignore[union-attr]
    assert record["recipients"][0]["explanation"] == "waiting to be sent"
    assert "prefix" not in record["recipients"][0] and "body" not in record
