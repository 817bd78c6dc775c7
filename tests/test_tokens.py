"""Signed tokens: bounce addresses (VERP) and opt-out links map back only when untouched."""

from __future__ import annotations

import string

from bounces.verp import bounce_address, decode_token, encode_token, token_of
from relay.unsubscribe import OptOutTarget, link_token, read_link_token

SECRET = b"k" * 32


def _one_char_variants(token: str, alphabet: str) -> list[str]:
    return [
        token[:i] + c + token[i + 1 :] for i in range(len(token)) for c in alphabet if c != token[i]
    ]


def test_bounce_token_round_trip_and_every_one_char_change_is_refused() -> None:
    token = encode_token(SECRET, 123456)
    assert decode_token(SECRET, token) == 123456
    assert decode_token(SECRET, token.upper()) == 123456  # MTAs may change the case
    assert all(
        decode_token(SECRET, t) is None
        for t in _one_char_variants(token, "abcdefghijklmnopqrstuvwxyz234567")
    )
    assert decode_token(b"x" * 32, token) is None  # another relay's secret
    address = bounce_address(SECRET, 7, "bounces.relay.example.net")
    assert decode_token(SECRET, token_of(address, "bounces.relay.example.net") or "") == 7
    assert token_of(address, "other.example.net") is None


def test_link_token_carries_target_and_rejects_any_change() -> None:
    target = OptOutTarget("mein-shop", "max@example.org", "refund")
    token = link_token(SECRET, target)
    assert read_link_token(SECRET, token) == target
    alphabet = string.ascii_letters + string.digits + "-_."
    assert all(read_link_token(SECRET, t) is None for t in _one_char_variants(token, alphabet))
    other = link_token(SECRET, OptOutTarget("mein-shop", "eva@example.org", "refund"))
    assert read_link_token(SECRET, other) != target
