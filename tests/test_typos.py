"""likely_typo: real typos of mailbox domains are caught; real domains are left alone."""

import pytest

from dns_checks import likely_typo
from dns_checks.mailbox_domains import mailbox_domains
from dns_checks.typos import damerau_levenshtein

TYPOS = [
    # the name: left-out letter, swapped neighbours, wrong letter, extra letter
    ("htmail.com", "hotmail.com"),
    ("hotmial.com", "hotmail.com"),
    ("hotmaik.de", "hotmail.de"),
    ("gmial.com", "gmail.com"),
    ("gmai.com", "gmail.com"),
    ("gamil.com", "gmail.com"),
    ("gmaill.com", "gmail.com"),
    ("yaho.com", "yahoo.com"),
    ("yahooo.de", "yahoo.de"),
    ("outlok.com", "outlook.com"),
    ("outllok.de", "outlook.de"),
    ("iclod.com", "icloud.com"),
    ("t-onlne.de", "t-online.de"),
    ("t-onine.de", "t-online.de"),
    ("tonline.de", "t-online.de"),
    ("googlemial.com", "googlemail.com"),
    ("protonmial.com", "protonmail.com"),
    ("freenett.de", "freenet.de"),
    ("gxm.de", "gmx.de"),
    ("wbe.de", "web.de"),
    # the suffix: not a real one, or a real one with a letter left out
    ("gmx.dee", "gmx.de"),
    ("web.d", "web.de"),
    ("gmx.ne", "gmx.net"),
    ("gmx.nt", "gmx.net"),
    ("gmail.co", "gmail.com"),
    ("gmail.con", "gmail.com"),
    ("gmail.cmo", "gmail.com"),
    ("gmail.comm", "gmail.com"),
    ("gmail.cm", "gmail.com"),
    ("hotmail.co", "hotmail.com"),
    ("yahoo.dee", "yahoo.de"),
    ("web.ed", "web.de"),
    # written the way people type them
    ("GMial.com", "gmail.com"),
    ("gmial.com.", "gmail.com"),
]

REAL = [
    # themselves well-known mailbox domains
    "gmx.at",
    "gmx.ch",
    "gmx.net",
    "gmx.de",
    "gmx.com",
    "mail.de",
    "web.de",
    "live.de",
    "aol.de",
    "me.com",
    "mac.com",
    "ymail.com",
    "yahoo.de",
    "hotmail.de",
    "gmail.com",
    "posteo.de",
    "email.com",
    # real domains near a well-known one
    "example.com",
    "mein-shop.de",
    "müller-shop.de",
    "mueller-maschinenbau-gmbh.de",
    "aok.de",  # a health insurer, one letter from aol.de
    "gmc.com",
    "bmw.de",
    "em.com",
    "web.dev",  # a real suffix with a letter added
    "live.be",
    "yahoo.at",  # a real suffix with a letter changed
    "hotmail.dk",
    "gmail.de",
    "example.co.uk",
    # subdomains and non-domains are never guessed at
    "mail.gmial.com",
    "gmail",
    "",
    "not a domain",
]


@pytest.mark.parametrize(("typed", "meant"), TYPOS)
def test_typos_are_caught(typed, meant):
    assert likely_typo(typed) == meant


@pytest.mark.parametrize("domain", REAL)
def test_real_domains_are_not_flagged(domain):
    assert likely_typo(domain) is None


def test_no_well_known_domain_is_ever_flagged():
    assert [d for d in mailbox_domains() if likely_typo(d)] == []


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("gmail", "gmail", 0),
        ("gmial", "gmail", 1),  # a swap counts once
        ("htmail", "hotmail", 1),
        ("gmx", "web", 3),
        ("", "abc", 3),
        ("ca", "abc", 3),  # optimal string alignment: no edits inside a swapped pair
    ],
)
def test_damerau_levenshtein(a, b, distance):
    assert damerau_levenshtein(a, b) == distance
