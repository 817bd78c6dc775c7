"""Replies of large providers and mail filters, as they publish them: the reason each one
stands for, read from the reply alone (no provider host known, as in a gateway's report).
The replies and where they come from: tests/data/bounces-replies/replies.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bounces import classify

DATA = Path(__file__).parent / "data" / "bounces-replies" / "replies.toml"
REPLIES = tomllib.loads(DATA.read_text())["reply"]


@pytest.mark.parametrize("case", REPLIES, ids=[r["text"][:60] for r in REPLIES])
def test_published_reply(case: dict) -> None:
    verdict = classify(None, None, case["text"], command=case["command"], report=True)
    assert verdict.reason == case["reason"]
