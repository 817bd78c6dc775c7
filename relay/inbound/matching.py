"""Which of our recipients a report is about (DESIGN "Bounce flow" step 4).

By the envelope token first (the signed b-<token> address the report was sent to, or quoted in
it); else by the Message-ID of the returned message plus the failed address; else nothing, and
the report stays stored as unrecognized.
"""

from dataclasses import dataclass

from bounces import Report
from bounces.verp import decode_token, token_of
from relay.model import State
from relay.store.dns_results import message_return_path
from relay.store.reports import RecipientRef, find_recipient, recipients_of_message_id
from relay.store.sql import Conn


@dataclass(frozen=True)
class Match:
    recipient: int
    message: str
    shop: str
    address: str
    state: State
    how: str  # "token" | "message-id"


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
    enveloped = [bounce_recipient(conn, a, secret, bounce_domain) for a in rcpt_tos]
    quoted = decode_token(secret, report.token) if report.token else None
    for rid in [*enveloped, quoted]:
        found = find_recipient(conn, rid) if rid is not None else None
        if found:
            return _match(found, "token")
    if report.message_id:
        return _by_message_id(conn, report)
    return None


def _by_message_id(conn: Conn, report: Report) -> Match | None:
    message_id = report.message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    found = recipients_of_message_id(conn, message_id)
    if not found:
        return None
    named = {rr.address.lower() for rr in report.recipients}
    chosen = [r for r in found if r.address.lower() in named] or (found if len(found) == 1 else [])
    return _match(chosen[0], "message-id") if chosen else None


def _match(ref: RecipientRef, how: str) -> Match:
    return Match(ref.id, ref.message, ref.shop, ref.address, State(ref.state), how)
