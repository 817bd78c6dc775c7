"""Which of our recipients a report is about (DESIGN "Bounce flow" step 4), and whether the
report proves it.

A report proves its recipient with a reference only the relay can make and only that
recipient's copy carried (SPEC "What it promises"), in this order:
- the signed bounce address: the envelope recipient of the report, or quoted in it (Return-Path,
  Delivered-To, X-Original-To ... of the returned message, an ARF's Original-Mail-From);
- the report reference header (bounces.verp.REF_HEADER) of the returned message, which is how a
  complaint (ARF, sent to the complaint address) proves it;
- the List-Unsubscribe of an optional kind's copy: its signed link, or its mailto address.
A token that verifies is the token's recipient even when the report names another address
(forwarding rewrites addresses). Failing all of them, the Message-ID of the returned message
names a recipient the report only claims: anyone can quote a Message-ID (a shop's
`order-9001@shop` is easily guessed, co-recipients see it), so such a match is unverified and
changes nothing. No match at all: unrecognized.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from bounces import Report
from bounces.verp import REF_HEADER, decode_token, ref_matches, split_ref, token_of
from relay.model import State
from relay.store.dns_results import message_return_path
from relay.store.reports import (
    RecipientRef,
    find_recipient,
    latest_recipient,
    recipients_of_message,
    recipients_of_message_id,
)
from relay.store.sql import Conn
from relay.store.suppression import mailto_target
from relay.unsubscribe import MAILTO_PREFIX, OptOutTarget, read_link_token

BY_BOUNCE_ADDRESS = "bounce-address"
BY_REPORT_REF = "report-ref"
BY_LIST_UNSUBSCRIBE = "list-unsubscribe"
BY_MESSAGE_ID = "message-id"  # a claim, not a proof
VERIFYING = (BY_BOUNCE_ADDRESS, BY_REPORT_REF, BY_LIST_UNSUBSCRIBE)

# A signed bounce address anywhere in a header value: b-<29 base32 characters>@ (the token of
# bounces.verp: 18 bytes). Its domain does not matter: the MAC is the proof.
_QUOTED_TOKEN = re.compile(r"(?<![\w.+-])[bB]-([A-Za-z2-7]{29})@", re.ASCII)
# References looked at per report, each kind: a genuine report quotes one; a hostile one with
# thousands must not cost thousands of lookups.
_MAX_CANDIDATES = 10
_LINK_TOKEN = re.compile(r"/u/([A-Za-z0-9_%.-]{1,1000})>")
_MAILTO_TOKEN = re.compile(rf"mailto:({MAILTO_PREFIX}[a-z2-7]{{1,60}})@", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    recipient: int
    message: str
    shop: str
    address: str
    state: State
    how: str  # one of VERIFYING, or BY_MESSAGE_ID

    @property
    def verified(self) -> bool:
        return self.how in VERIFYING


def bounce_recipient(conn: Conn, address: str, secret: bytes, bounce_domain: str) -> int | None:
    """The recipient row a signed bounce address names: b-<token>@<the relay's bounce
    domain>, or b-<token>@<the shop's custom return path> when that is the domain the token's
    message was sent with (relay.store.dns_results). A token at any other domain is refused:
    the relay takes mail only for the domains it was given."""
    domain = address.strip().strip("<>").rpartition("@")[2].lower()
    token = token_of(address, domain)
    rid = decode_token(secret, token) if token else None
    if rid is None or domain == bounce_domain.lower():
        return rid
    return rid if message_return_path(conn, rid) == domain else None


def match_report(
    conn: Conn, report: Report, rcpt_tos: list[str], secret: bytes, bounce_domain: str
) -> Match | None:
    return (
        _by_bounce_address(conn, report, rcpt_tos, secret, bounce_domain)
        or _by_report_ref(conn, report, secret)
        or _by_list_unsubscribe(conn, report, secret)
        or _by_message_id(conn, report)
    )


def _by_bounce_address(
    conn: Conn, report: Report, rcpt_tos: list[str], secret: bytes, bounce_domain: str
) -> Match | None:
    # The envelope's bounce addresses: the relay's bounce domain, or the shop's own return path
    # for a message sent with it (bounce_recipient); a quoted token proves itself by its MAC.
    enveloped = [bounce_recipient(conn, a, secret, bounce_domain) for a in rcpt_tos]
    quoted = [m.group(1) for _, value in report.returned_headers for m in _tokens_in(value)]
    tokens = [report.token, *quoted][: _MAX_CANDIDATES + 1]
    for rid in [*enveloped, *(decode_token(secret, t) if t else None for t in tokens)]:
        found = find_recipient(conn, rid) if rid is not None else None
        if found:
            return _match(found, BY_BOUNCE_ADDRESS)
    return None


def _tokens_in(value: str) -> Iterator[re.Match[str]]:
    return _QUOTED_TOKEN.finditer(value) if "b-" in value.lower() else iter(())


def _by_report_ref(conn: Conn, report: Report, secret: bytes) -> Match | None:
    for value in _returned(report, REF_HEADER):
        parts = split_ref(value)
        if parts is None:
            continue
        queue_id, mac = parts
        for found in recipients_of_message(conn, queue_id):
            if ref_matches(secret, queue_id, found.address, mac):
                return _match(found, BY_REPORT_REF)
    return None


def _by_list_unsubscribe(conn: Conn, report: Report, secret: bytes) -> Match | None:
    """An optional kind's List-Unsubscribe names shop, address and kind, signed: the recipient
    is the one of those the Message-ID names, else the newest of that shop, address and kind
    (an opt-out link is the same for every message of a kind)."""
    for target in _unsubscribe_targets(conn, report, secret):
        named = [
            r
            for r in _message_id_recipients(conn, report)
            if r.shop == target.shop and r.address.lower() == target.address.lower()
        ]
        found = named[0] if named else latest_recipient(conn, *_target(target))
        if found:
            return _match(found, BY_LIST_UNSUBSCRIBE)
    return None


def _unsubscribe_targets(conn: Conn, report: Report, secret: bytes) -> Iterator[OptOutTarget]:
    for value in _returned(report, "list-unsubscribe"):
        for link in _LINK_TOKEN.finditer(value):
            target = read_link_token(secret, unquote(link.group(1)))
            if target:
                yield target
        for mailto in _MAILTO_TOKEN.finditer(value):
            found = mailto_target(conn, mailto.group(1).lower())
            if found:
                yield OptOutTarget(*found)


def _target(target: OptOutTarget) -> tuple[str, str, str]:
    return target.shop, target.address, target.kind


def _by_message_id(conn: Conn, report: Report) -> Match | None:
    found = _message_id_recipients(conn, report)
    if not found:
        return None
    named = {rr.address.lower() for rr in report.recipients}
    chosen = [r for r in found if r.address.lower() in named] or (found if len(found) == 1 else [])
    return _match(chosen[0], BY_MESSAGE_ID) if chosen else None


def _message_id_recipients(conn: Conn, report: Report) -> list[RecipientRef]:
    if not report.message_id:
        return []
    message_id = report.message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    return recipients_of_message_id(conn, message_id)


def _returned(report: Report, name: str) -> list[str]:
    """Every value of one header of the returned message (any case of its name)."""
    name = name.lower()
    return [value for key, value in report.returned_headers if key.lower() == name][
        :_MAX_CANDIDATES
    ]


def _match(ref: RecipientRef, how: str) -> Match:
    return Match(ref.id, ref.message, ref.shop, ref.address, State(ref.state), how)
