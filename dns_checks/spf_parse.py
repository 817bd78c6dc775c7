"""The parse layer for SPF: pure functions on record text (RFC 7208 §4.5, §4.6, §12).

Evaluation is pyspf's job (dns_checks.spf_eval); these functions only read and
rewrite the text of one record, to explain results and to produce the record a
shop should publish.
"""

from __future__ import annotations

import re

# RFC 7208 §4.5: a record is SPF when it starts with "v=spf1" followed by a
# space or the end; anything else ("v=spf10", "spf1") is not an SPF record.
_SPF_VERSION = re.compile(r"^v=spf1(?: |$)", re.IGNORECASE)
_ALL = re.compile(r"^[+\-~?]?all$", re.IGNORECASE)
_QUALIFIERS = "+-~?"


def is_spf_record(text: str) -> bool:
    return bool(_SPF_VERSION.match(text.strip()))


def spf_records(txt_records: list[str]) -> list[str]:
    """The SPF records among a name's TXT records, stripped of outer whitespace."""
    return [text.strip() for text in txt_records if is_spf_record(text)]


def spf_terms(record: str) -> list[str]:
    """The directives and modifiers after "v=spf1" (RFC 7208 §4.6.1: space separated)."""
    return record.split()[1:]


def _is_all(term: str) -> bool:
    return bool(_ALL.match(term))


def _is_redirect(term: str) -> bool:
    return term.lower().startswith("redirect=")


def all_term(record: str) -> str | None:
    """The first "all" mechanism ('~all', '-all', ...), written with its qualifier.

    RFC 7208 §5.1: evaluation stops at "all", so terms after it never count.
    """
    term = next((t for t in spf_terms(record) if _is_all(t)), None)
    if term is None:
        return None
    return term.lower() if term[0] in _QUALIFIERS else "+" + term.lower()


def replace_all_term(record: str, replacement: str) -> str:
    """The record with its first "all" term ('all', '+ALL', '-all', ...) replaced.

    The term is the one all_term() reads, so "v=spf1 mx all" -> "v=spf1 mx ~all";
    the record is returned unchanged when it has no "all".
    """
    words = record.split()
    for index, term in enumerate(words[1:], start=1):
        if _is_all(term):
            words[index] = replacement
            return " ".join(words)
    return record


def redirect_target(record: str) -> str | None:
    """The redirect= domain, which only applies when no "all" is present (RFC 7208 §6.1)."""
    term = next((t for t in spf_terms(record) if _is_redirect(t)), None)
    return term.partition("=")[2] if term else None


def _include_target(term: str) -> str | None:
    """'include:x' or '+include:x' -> 'x'. Other qualifiers do not authorise anybody."""
    body = term[1:] if term.startswith("+") else term
    if body.lower().startswith("include:"):
        return body[len("include:") :].rstrip(".").lower()
    return None


def _stop_index(terms: list[str]) -> int:
    """Where a new mechanism must go: before the first all or redirect=, else the end."""
    return next((i for i, t in enumerate(terms) if _is_all(t) or _is_redirect(t)), len(terms))


def includes(record: str) -> list[str]:
    """The include: domains that count, i.e. those before any "all"."""
    terms = spf_terms(record)
    reachable = terms[: next((i for i, t in enumerate(terms) if _is_all(t)), len(terms))]
    return [d for d in map(_include_target, reachable) if d]


def has_include(record: str, include: str) -> bool:
    return include.rstrip(".").lower() in includes(record)


def add_include(record: str, include: str) -> str:
    """Insert "include:<include>" before the all / redirect= term; unchanged if present.

    Inserting before "all" matters: mechanisms after "all" are never evaluated.
    Inserting before redirect= is only for readability (modifiers are not ordered)
    but keeps the record in the shape people expect.
    """
    if has_include(record, include):
        return record
    terms = spf_terms(record)
    terms = [t for t in terms if _include_target(t) != include.rstrip(".").lower()]
    terms.insert(_stop_index(terms), f"include:{include.rstrip('.')}")
    return " ".join(["v=spf1", *terms])


def add_mechanisms(record: str, mechanisms: list[str]) -> str:
    """Insert the mechanisms ("ip4:192.0.2.1") the record lacks before its all / redirect=."""
    terms = spf_terms(record)
    present = {t.lower() for t in terms}
    missing = [m for m in mechanisms if m.lower() not in present]
    at = _stop_index(terms)
    return " ".join(["v=spf1", *terms[:at], *missing, *terms[at:]])


def new_spf_record(include: str, final: str = "~all") -> str:
    """A record for a name without SPF: "v=spf1 include:<include> ~all".

    ~all rather than -all at a shop's own domain: we only know about the relay. A
    shop often also sends from its shop server, a newsletter tool or its office
    mailbox; with -all that mail would be rejected outright, with ~all it is only
    marked suspicious and DMARC decides (RFC 7208 §8.4, §8.5). A name only the relay
    sends from (a return path, the relay's bounce domain) takes final="-all".
    """
    return f"v=spf1 include:{include.rstrip('.')} {final}"


def merge_spf_records(records: list[str]) -> str:
    """Several SPF records -> one (RFC 7208 §4.5 allows exactly one; more = permerror).

    Mechanisms are kept in order without duplicates; the "all" term is the first
    record's (or the first one found), redirect= only when no record has "all";
    other modifiers (exp=) keep their first value.
    """
    mechanisms: list[str] = []
    modifiers: dict[str, str] = {}
    final: str | None = None
    for record in records:
        for term in spf_terms(record):
            name = term.partition("=")[0].lower() if "=" in term.partition(":")[0] else None
            if _is_all(term):
                final = final or term
            elif name:
                modifiers.setdefault(name, term)
            elif term.lower() not in (m.lower() for m in mechanisms):
                mechanisms.append(term)
    if final:
        modifiers.pop("redirect", None)
    ordered_modifiers = sorted(modifiers.values(), key=_is_redirect)
    return " ".join(["v=spf1", *mechanisms, *([final] if final else []), *ordered_modifiers])
