"""Say what happened to a recipient in words a merchant understands (not only codes), in the
shop's language (`de` or `en`; the CLI speaks English)."""

import datetime
import re
from typing import Any

from relay.kinds import BUILTIN_KINDS

LANGUAGES = ("en", "de")

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

_REASON_WORDS_DE = {
    "userunknown": "das Postfach existiert nicht",
    "hostunknown": "die Domain existiert nicht oder nimmt keine E-Mails an",
    "notaccept": "die Domain nimmt keine E-Mails an",
    "hasmoved": "die Adresse hat sich geändert",
    "mailboxfull": "das Postfach ist voll",
    "mesgtoobig": "die Nachricht ist für den Empfänger zu groß",
    "exceedlimit": "die Nachricht ist für den Empfänger zu groß",
    "suspend": "das Postfach ist gesperrt",
    "blocked": "der Server des Empfängers lehnt das Relay ab (Sperrliste)",
    "spamdetected": "der Server des Empfängers hielt die Nachricht für Spam",
    "policyviolation": "der Server des Empfängers lehnte sie nach seinen Regeln ab",
    "rejected": "der Server des Empfängers lehnte den Absender ab",
    "expired": "aufgegeben nach Zustellversuchen bis zum Ende der Wartezeit",
    "networkerror": "der Server des Empfängers war nicht erreichbar",
    "systemerror": "der Server des Empfängers hatte einen Fehler",
    "systemfull": "der Server des Empfängers hat keinen Platz mehr",
    "mailererror": "das Mailprogramm des Empfängers (Filter oder Weiterleitung) schlug fehl",
    "ratelimited": "der Server des Empfängers begrenzt, wie schnell er E-Mails annimmt",
    "toomanyconn": "der Server des Empfängers begrenzt die Verbindungen",
    "filtered": "der Server des Empfängers hat sie ausgefiltert",
    "contenterror": "der Server des Empfängers lehnte den Inhalt ab",
    "notcompliantrfc": "laut Server des Empfängers verletzt die Nachricht die Formatregeln",
    "virusdetected": "der Server des Empfängers fand einen Virus",
    "securityerror": "der Server des Empfängers lehnte sie aus Sicherheitsgründen ab",
    "authfailure": "laut Server des Empfängers schlug die Absenderprüfung (SPF/DKIM/DMARC) fehl",
    "requireptr": "der Server des Empfängers verlangt einen Reverse-DNS-Namen für die Absende-IP",
    "badreputation": "der Server des Empfängers misstraut der Absende-IP (Reputation)",
    "norelaying": "der Server des Empfängers nimmt keine E-Mails für diese Adresse an",
    "syntaxerror": "der Server des Empfängers verstand die Zustellung nicht (Protokollfehler)",
    "onhold": "der Server des Empfängers lehnte ab, ohne einen Grund zu nennen",
    "undefined": "abgelehnt, ohne dass jemand einen Grund nannte",
    "delivered": "zugestellt",
    "vacation": "eine automatische Antwort (Abwesenheit), kein Fehler",
    "feedback": "der Empfänger hat sie als Spam gemeldet",
}

# Sentences per language; `{...}` are filled in by explain().
_EN = {
    "failed": "not sent: {detail}",
    "failed-default": "the address can never receive mail",
    "bounced": "rejected by the recipient's server: {words}{reply}",
    "expired": "not delivered: {words}; last error: {last}",
    "deferred": "delayed, retrying at {at}: {last}{reply}",
    "deferred-default": "temporary error",
    "quarantined": "held back by an internal error; an admin must run `relay queue retry`",
    "delivered-fallback": (
        "delivered; sent from the relay's address because your domain is not set up (SPF/DKIM)"
    ),
    "delivered": "delivered",
    "waiting": "waiting to be sent",
    "not-sent": "not sent: {detail}",
    "blocked-complaint": "not sent: address blocked after a spam complaint ({detail})",
    "blocked": "not sent: address blocked ({detail})",
}
_DE = {
    "failed": "nicht gesendet: {detail}",
    "failed-default": "die Adresse kann nie E-Mails empfangen",
    "invalid-address": "die Adresse ist ungültig",
    "bounced": "vom Server des Empfängers abgelehnt: {words}{reply}",
    "expired": "nicht zugestellt: {words}; letzter Fehler: {last}",
    "deferred": "verzögert, nächster Versuch {at}: {last}{reply}",
    "deferred-default": "vorübergehender Fehler",
    "quarantined": (
        "wegen eines internen Fehlers zurückgehalten; ein Admin muss `relay queue retry` ausführen"
    ),
    "delivered-fallback": (
        "zugestellt; von der Adresse des Relays gesendet, weil Ihre Domain noch nicht"
        " eingerichtet ist (SPF/DKIM)"
    ),
    "delivered": "zugestellt",
    "waiting": "wartet auf den Versand",
    "not-sent": "nicht gesendet: {detail}",
    "blocked-complaint": "nicht gesendet: Adresse seit {day} nach einer Spam-Beschwerde gesperrt",
    "blocked": "nicht gesendet: Adresse seit {day} gesperrt ({why})",
    "opted-out": "nicht gesendet: der Kunde hat sich am {day} von {label} abgemeldet",
    "kind-disabled": "nicht gesendet: der Shop hat {label} abgeschaltet",
}
# The stored details of suppressed rows (relay/prepare/recipients.py writes them in English).
_BLOCKED = re.compile(r"address blocked since (\S+) \((.*)\)")
_OPTED_OUT = re.compile(r"customer opted out of .* on (\S+)")
_BLOCK_WHY_DE = {"complaint": "Spam-Beschwerde", "admin": "vom Admin gesperrt"}


def _reply(row: dict[str, Any]) -> str:
    """` (550 5.1.1)`: the stored code of the last reply."""
    parts = [str(row.get("last_code") or ""), row.get("last_status") or ""]
    code = " ".join(p for p in parts if p)
    return f" ({code})" if code else ""


def _deferral_reply(row: dict[str, Any]) -> str:
    """The code of a deferral, only when a server sent it. The relay's own finding (a refused
    connection, DNS trouble: the last attempt reached no MX host, `last_mx_host` is None)
    carries a code for machines only; shown, it would read like the customer's server's
    answer (issue 14). A row without the key (its source does not know) shows the code."""
    if "last_mx_host" in row and row["last_mx_host"] is None:
        return ""
    return _reply(row)


def reason_words(reason: str | None, language: str = "en") -> str | None:
    """What a bounce reason means, in words, or None for a reason without words."""
    table = _REASON_WORDS_DE if language == "de" else _REASON_WORDS
    return table.get(reason or "")


def explain(row: dict[str, Any], language: str = "en") -> str:
    """One sentence for a history row (recipient joined with its message)."""
    german = language == "de"
    say = _DE if german else _EN
    state, reason, detail = row["state"], row.get("reason"), row.get("detail") or ""
    if state == "suppressed":
        return _suppressed_de(row, reason, detail) if german else _suppressed(reason, detail)
    if state == "failed":
        return say["failed"].format(detail=_failed_words(row, language))
    if state == "bounced":
        words = reason_words(reason, language) or row.get("last_text") or reason or "rejected"
        if reason == "expired":
            return say["expired"].format(words=words, last=row.get("last_text") or "?")
        return say["bounced"].format(words=words, reply=_reply(row))
    if state == "deferred":
        last = row.get("last_text") or say["deferred-default"]
        return say["deferred"].format(
            at=_time(row.get("next_attempt_at")), last=last, reply=_deferral_reply(row)
        )
    if state == "quarantined":
        return say["quarantined"]
    if state == "delivered" and row.get("identity") == "fallback":
        return say["delivered-fallback"]
    if state == "delivered":
        return say["delivered"]
    return say["waiting"] if state in ("queued", "inflight") else state


def _failed_words(row: dict[str, Any], language: str) -> str:
    detail = row.get("detail") or ""
    if language != "de":
        return detail or _EN["failed-default"]
    reason = row.get("reason")
    if reason == "invalid-address":
        return _DE["invalid-address"]
    # Never a code: `failed` is the relay's own finding (DNS, a server without SMTPUTF8),
    # its code made up, as the English words (the stored detail) say it.
    return reason_words(reason, "de") or detail or _DE["failed-default"]


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


def _suppressed_de(row: dict[str, Any], reason: str | None, detail: str) -> str:
    label = kind_words(row.get("kind") or "", "de")
    if reason == "blocked" and (found := _BLOCKED.fullmatch(detail)):
        day, why = found.groups()
        if why == "complaint":
            return _DE["blocked-complaint"].format(day=day)
        words = _BLOCK_WHY_DE.get(why) or reason_words(why, "de") or why
        return _DE["blocked"].format(day=day, why=words)
    if reason == "opted-out" and (found := _OPTED_OUT.fullmatch(detail)):
        return _DE["opted-out"].format(day=found.group(1), label=label)
    if reason == "kind-disabled":
        return _DE["kind-disabled"].format(label=label)
    return _DE["not-sent"].format(detail=detail or reason)


def _time(ts: float | None) -> str:
    if not ts:
        return "?"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def kind_words(kind: str, language: str = "en") -> str:
    known = BUILTIN_KINDS.get(kind)
    if known is None:
        return kind
    return known.label(language)


def reach_otherwise(kind: str, order: str | None, language: str = "en") -> str:
    """What the shop must do about mandatory mail that did not reach the customer."""
    if language == "de":
        of = f" zur Bestellung {order}" if order else ""
        return (
            f"Der Kunde hat diese Nachricht ({kind_words(kind, 'de')}{of}) nicht erhalten."
            " Erreichen Sie ihn auf anderem Weg, per Post oder Telefon."
        )
    of = f" of order {order}" if order else ""
    return (
        f"The customer did not get this {kind} message{of}."
        " Reach them another way, by post or by phone."
    )
