"""Recipient domains that look like a typo of a well-known mailbox domain.

A mistyped but existing domain (htmail.com) accepts the mail and never bounces,
so nothing proves the address wrong (SPEC: Delivery). `likely_typo` gives the
relay a hint to show; it is tuned for precision over recall, because a wrong
warning on a real customer domain is worse than a missed typo.

The well-known domains are the public mailbox domains in
data/mailbox_domains.txt: every one of them is real, so none is ever flagged.
A domain is split into its name and its public suffix ("gmx" + "de",
"hotmail" + "co.uk") and one of the two may differ from a known domain:

- the name, suffix equal, by Damerau-Levenshtein distance (optimal string
  alignment: insert, delete, substitute, swap two neighbours), with a budget by
  the known name's length, since short names have many real neighbours:
    1-2 letters (me, pm, qq): nothing;   3-4 (gmx, web, aol, live, mail): a swap only;
    5-7 (gmail, yahoo, hotmail): 1 edit;  8+ (t-online, googlemail): 2 edits.
  So aok.de (a health insurer) is not aol.de, but gxm.de is gmx.de.
- the suffix, name equal, by exactly one edit, when the typed suffix is not a
  real one (gmx.dee, gmail.con, web.d) or is a real one with a letter left out
  (gmail.co, gmx.ne, gmail.cm: typing stopped early). A real suffix with a
  letter changed or added (gmx.at, live.be, web.dev) is a real domain.

Ties go to the likelier slip (a left-out letter or swap before an extra letter
before a wrong letter: gmx.ne -> gmx.net, not gmx.de), then to the earlier,
more popular entry of the data file.
"""

from __future__ import annotations

import functools

from dns_checks.mailbox_domains import mailbox_domains
from dns_checks.names import (
    InvalidDomain,
    is_known_public_suffix,
    organizational_domain,
    public_suffix,
    to_ascii_domain,
)


def damerau_levenshtein(a: str, b: str) -> int:
    """Optimal string alignment distance: edits plus swaps of adjacent characters."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def _split(ascii_domain: str) -> tuple[str, str] | None:
    """'gmx.co.uk' -> ('gmx', 'co.uk'); None for subdomains ('mx.gmx.de') and bare suffixes."""
    suffix = public_suffix(ascii_domain)
    if organizational_domain(ascii_domain) != ascii_domain or suffix == ascii_domain:
        return None
    return ascii_domain[: -len(suffix) - 1], suffix


@functools.cache
def _known() -> tuple[tuple[str, str, str], ...]:
    """(domain, name, suffix) for every well-known domain, most popular first."""
    return tuple((d, *parts) for d in mailbox_domains() if (parts := _split(d)))


def _name_budget(known_name: str) -> int:
    size = len(known_name)
    return 0 if size <= 4 else 1 if size <= 7 else 2


def _is_swap(a: str, b: str) -> bool:
    return len(a) == len(b) and damerau_levenshtein(a, b) == 1 and sorted(a) == sorted(b)


def _name_distance(name: str, known_name: str) -> int | None:
    if len(known_name) <= 2:
        return None
    if len(known_name) <= 4:
        return 1 if _is_swap(name, known_name) else None
    distance = damerau_levenshtein(name, known_name)
    return distance if distance <= _name_budget(known_name) else None


def _suffix_distance(suffix: str, known_suffix: str) -> int | None:
    if damerau_levenshtein(suffix, known_suffix) != 1:
        return None
    left_out = len(suffix) < len(known_suffix)
    return 1 if left_out or not is_known_public_suffix(suffix) else None


def _slip_rank(typed: str, known: str) -> int:
    """0 for a left-out letter or a swap, 1 for an extra letter, 2 for a wrong letter."""
    if len(typed) < len(known) or _is_swap(typed, known):
        return 0
    return 1 if len(typed) > len(known) else 2


@functools.lru_cache(maxsize=4096)
def likely_typo(domain: str) -> str | None:
    """The well-known mailbox domain `domain` was probably meant to be, or None.

    'htmail.com' -> 'hotmail.com', 'gmx.dee' -> 'gmx.de', 'gmx.at' -> None
    (real), 'mein-shop.de' -> None. Accepts unicode; never raises.
    """
    try:
        typed = to_ascii_domain(domain)
    except InvalidDomain:
        return None
    if typed in (known for known, _, _ in _known()):
        return None
    parts = _split(typed)
    if parts is None:
        return None
    name, suffix = parts
    best: tuple[int, int, int, str] | None = None
    for rank, (known, known_name, known_suffix) in enumerate(_known()):
        if suffix == known_suffix:
            distance, slip = _name_distance(name, known_name), _slip_rank(name, known_name)
        elif name == known_name:
            distance, slip = (
                _suffix_distance(suffix, known_suffix),
                _slip_rank(suffix, known_suffix),
            )
        else:
            continue
        if distance is not None and (best is None or (distance, slip, rank) < best[:3]):
            best = (distance, slip, rank, known)
    return best[3] if best else None
