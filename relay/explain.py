"""Say what happened to a recipient in words a merchant understands (not only codes)."""

import datetime
from typing import Any

from relay.kinds import BUILTIN_KINDS

# Reason (bounces.taxonomy.Reason, SPEC's list) -> what it means for the shop.
_REASON_WORDS = {
    "userunknown": "mailbox does not exist",
    "hostunknown": "the domain does not exist or takes no mail",
    "notaccept": "the domain accepts no mail",
    "hasmoved": "the address has moved",
    "mailboxfull": "the mailbox is full",
    "mesgtoobig": "the message is too big for the recipient",
    "exceedlimit": "the message is too big for the recipient",
    "suspend": "the mailbox is disabled",
    "blocked": "the recipient's server refused the relay (blocklist)",
    "spamdetected": "the recipient's server took the message for spam",
    "policyviolation": "the recipient's server refused it by policy",
    "rejected": "the recipient's server refused the sender",
    "expired": "gave up after retrying until the queue lifetime ended",
    "networkerror": "the recipient's server could not be reached",
    "systemerror": "the recipient's server had an error",
    "systemfull": "the recipient's server is out of space",
    "mailererror": "the recipient's mail program (a filter or forward) failed",
    "ratelimited": "the recipient's server limits how fast it accepts mail",
    "toomanyconn": "the recipient's server limits connections",
    "filtered": "the recipient's server filtered it",
    "contenterror": "the recipient's server refused the content",
    "notcompliantrfc": "the recipient's server says the message breaks the mail format rules",
    "virusdetected": "the recipient's server found a virus",
    "securityerror": "the recipient's server refused it for security reasons",
    "authfailure": "the recipient's server says the sender authentication (SPF/DKIM/DMARC) failed",
    "requireptr": "the recipient's server wants a reverse DNS name for the sending address",
    "badreputation": "the recipient's server distrusts the sending address (reputation)",
    "norelaying": "the recipient's server does not accept mail for this address",
    "syntaxerror": "the recipient's server did not understand the delivery (protocol error)",
    "onhold": "the recipient's server refused it; the reply does not say why",
    "undefined": "refused for a reason nobody stated",
    "delivered": "delivered",
    "vacation": "an automatic reply (out of office), no failure",
    "feedback": "the recipient reported it as spam",
}


def _day(ts: float | None) -> str:
    if not ts:
        return "?"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d")


def _reply(row: dict[str, Any]) -> str:
    parts = [str(row.get("last_code") or ""), row.get("last_status") or ""]
    code = " ".join(p for p in parts if p)
    return f" ({code})" if code else ""


def explain(row: dict[str, Any]) -> str:
    """One sentence for a history row (recipient joined with its message)."""
    state, reason, detail = row["state"], row.get("reason"), row.get("detail") or ""
    if state == "suppressed":
        return _suppressed(reason, detail)
    if state == "failed":
        return f"not sent: {detail or 'the address can never receive mail'}"
    if state == "bounced":
        words = _REASON_WORDS.get(reason or "", row.get("last_text") or reason or "rejected")
        if reason == "expired":
            return f"not delivered: {words}; last error: {row.get('last_text') or '?'}"
        return f"rejected by the recipient's server: {words}{_reply(row)}"
    if state == "deferred":
        return (
            f"delayed, retrying at {_time(row.get('next_attempt_at'))}: "
            f"{row.get('last_text') or 'temporary error'}{_reply(row)}"
        )
    if state == "quarantined":
        return "held back by an internal error; an admin must run `relay queue retry`"
    if state == "delivered" and row.get("identity") == "fallback":
        return (
            "delivered; sent from the relay's address because your domain is not set up (SPF/DKIM)"
        )
    if state == "delivered":
        return "delivered"
    return "waiting to be sent" if state in ("queued", "inflight") else state


def _suppressed(reason: str | None, detail: str) -> str:
    if reason == "opted-out":
        return f"not sent: {detail}"
    if reason == "blocked":
        if "complaint" in detail:
            return f"not sent: address blocked after a spam complaint ({detail})"
        return f"not sent: address blocked ({detail})"
    if reason == "kind-disabled":
        return f"not sent: {detail}"
    return f"not sent: {detail or reason}"


def _time(ts: float | None) -> str:
    if not ts:
        return "?"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def kind_words(kind: str) -> str:
    known = BUILTIN_KINDS.get(kind)
    return known.label_en if known else kind
