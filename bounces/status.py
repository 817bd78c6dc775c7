"""SMTP reply codes (RFC 5321 §4.2) and enhanced status codes (RFC 3463) in free text."""

from __future__ import annotations

import re
from functools import lru_cache

# RFC 3463 §2: class.subject.detail; subject 0-7 today, detail up to three digits.
# Not preceded by a digit, a dot or a "v" (a version number), not followed by more digits.
_STATUS = re.compile(r"(?<![\d.vV])([245])\.([0-7])\.(\d{1,3})(?!\d|\.\d)")
# RFC 2034 §4: the enhanced code directly follows the reply code ("550-'5.7.1 ...").
_AFTER_REPLY = re.compile(r"(?<![\d.])[245]\d\d[ -]+['\"#(]?([245]\.[0-7]\.\d{1,3})(?!\d|\.\d)")
_REPLY_BEFORE = re.compile(r"[245]\d\d[ -]+['\"#(]?$")
# Reply codes in the order a bounce processor should prefer them (failures first).
_REPLY_CODES = {
    "5": "550 552 553 551 521 525 523 524 530 533 534 535 538 555 556 554 500 501 502 503 504",
    "4": "421 450 451 452 422 430 432 453 454 455 458 459",
    "2": "211 214 220 221 235 250 251 252 253 334 354",
}
_REPLY = re.compile(r"(?<![\d./])([245][0-5]\d)(?![\d./])")  # RFC 5321 §4.2

# Sisimai's internal codes for a reason when the report carries no usable status,
# so that results compare with it: class "5" or "4", subject 0, detail 9xx.
PSEUDO_DETAIL = {
    "authfailure": "972",
    "badreputation": "975",
    "blocked": "971",
    "contenterror": "960",
    "exceedlimit": "923",
    "expired": "947",
    "failedstarttls": "976",
    "filtered": "910",
    "hasmoved": "916",
    "hostunknown": "912",
    "mailboxfull": "922",
    "mailererror": "939",
    "mesgtoobig": "934",
    "networkerror": "944",
    "norelaying": "909",
    "notaccept": "932",
    "notcompliantrfc": "974",
    "onhold": "901",
    "policyviolation": "972",
    "rejected": "918",
    "requireptr": "973",
    "securityerror": "970",
    "spamdetected": "980",
    "speeding": "946",
    "suspend": "921",
    "systemerror": "930",
    "systemfull": "931",
    "syntaxerror": "902",
    "toomanyconn": "945",
    "ratelimited": "945",
    "userunknown": "911",
    "undefined": "900",
    "virusdetected": "971",
}
# No temporary pseudo code exists for these: they are permanent by nature.
_PERMANENT_ONLY = frozenset({"hasmoved", "hostunknown", "userunknown"})


def status_field(value: str) -> str:
    """The code of a Status: field or a caller's status argument (RFC 3464 §2.3.4),
    where a success class needs no reply code before it."""
    match = _STATUS.search(value[:64]) if value else None
    return ".".join(match.groups()) if match else ""


# Detectors, the classifier and the report builder ask about the same diagnostic;
# a small cache serves one report's repeated questions.
@lru_cache(maxsize=32)
def find_status(text: str, klass: str = "") -> str:
    """The most specific enhanced status code in `text` ('' if none).

    X.0.0 and 4.4.7 say little, so a more specific code later in the text wins.
    """
    if not text:
        return ""
    text = text[:8192]  # the look-arounds of _STATUS already skip IPv4 addresses
    fallback = ""
    for match in _STATUS.finditer(text):
        if klass and match.group(1) != klass:
            continue
        if match.group(1) == "2" and not _REPLY_BEFORE.search(text, 0, match.start()):
            continue  # "JetMail 2.0.13": success codes only count right after a 2xx reply
        code = ".".join(match.groups())
        if code.endswith(".0.0") or code == "4.4.7":
            fallback = fallback or code
            continue
        if code.endswith(".0") and not _REPLY_BEFORE.search(text, 0, match.start()):
            return _quoted_reply_code(text, klass) or code
        return code
    return fallback


def _quoted_reply_code(text: str, klass: str) -> str:
    """A generic X.Y.0 of the reporting MTA yields to the remote server's own code that
    follows its reply code ("5.1.0 - Unknown address error 550-'5.7.1 ..."), RFC 2034 §4."""
    for match in _AFTER_REPLY.finditer(text):
        code = match.group(1)
        if (klass and code[0] != klass) or code.endswith(".0") or code == "4.4.7":
            continue
        return code
    return ""


@lru_cache(maxsize=32)
def find_reply(text: str, klass: str = "") -> str:
    """An SMTP reply code in `text` ('' if none), preferring failure codes."""
    if not text or "x-unix" in text[:64].lower():
        return ""
    found = {m.group(1) for m in _REPLY.finditer(text[:8192])}
    if not found:
        return ""
    classes = [klass] if klass in _REPLY_CODES else ["5", "4", "2"]
    for k in classes:
        for code in _REPLY_CODES[k].split():
            if code in found:
                return code
    return ""


def prefer(field: str, in_text: str, reply: str) -> str:
    """Choose between the DSN Status: field and the code found in the diagnostic text.

    Generic codes (X.0.0, X.Y.0, 4.4.7, 5.3.x, X.5.x) yield to a specific code
    in the remote server's own words; a class disagreeing with the reply loses.
    """
    if not field or len(field) < 5:
        return in_text
    if not in_text or len(in_text) < 5:
        return field
    if reply and field[0] != in_text[0]:
        if reply[0] == field[0]:
            return field
        if reply[0] == in_text[0]:
            return in_text
    if field == in_text:
        return field
    if ".0.0" in field:
        return in_text if ".0.0" not in in_text else field
    if ".0" in field and ".0" not in in_text:
        return in_text
    if ".0.0" in in_text:
        return field
    if field in ("4.4.7", "4.7.0") or field.startswith("5.3.") or field[1:5] in _PROTOCOL:
        return in_text
    if field == "5.1.1":
        return field if ".0" in in_text or in_text.startswith("5.5.") else in_text
    if field == "5.1.3" and in_text.startswith("5.7."):
        return in_text
    return field


_PROTOCOL = (".5.1", ".5.2", ".5.4", ".5.5")


def pseudo_status(reason: str, temporary: bool) -> str:
    """A Sisimai-style X.0.9xx code standing for the reason."""
    detail = PSEUDO_DETAIL.get(reason, "")
    if not detail:
        return ""
    klass = "4" if temporary and reason not in _PERMANENT_ONLY else "5"
    if reason == "filtered" and klass == "4":
        detail = "924"
    return f"{klass}.0.{detail}"


def is_temporary(text: str) -> bool:
    code = find_status(text) or find_reply(text)
    if code.startswith("4"):
        return True
    lowered = text.lower()
    return " temporar" in lowered or " persistent" in lowered


_CONTINUATION = re.compile(r"(?<![\d.])([245]\d\d)-([245]\.\d{1,3}\.\d{1,3} )?")


def join_continuations(text: str) -> str:
    """Undo RFC 5321 §4.2.1 multi-line replies quoted on one line: "550-5.7.1 Our system
    550-5.7.1 has detected" -> "550 5.7.1 Our system has detected" (phrases match again)."""
    if "-" not in text:
        return text
    matches = list(_CONTINUATION.finditer(text))
    if len(matches) < 2:
        return text
    first = matches[0]
    code, enhanced = first.group(1), first.group(2) or ""
    rest = _CONTINUATION.sub("", text[first.end() :])
    rest = rest.replace(f"{code} {enhanced}", "", 1) if enhanced else rest
    return f"{text[: first.start()]}{code} {enhanced}{rest}"
