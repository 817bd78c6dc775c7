"""Accuracy on the labelled bounce corpus (../shared/bounces), scored like score.py.

Fails below 95 % recipient, 95 % kind or 90 % reason on the default splits and on
all splits (the CRLF and bare-CR copies included).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bounces.score_adapter import verdict
from tests.rig.tools import in_ci

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "bounces"
DEFAULT_SPLITS = {"bsd", "err", "not", "tmp", "flufl", "postfix"}
FLOORS = {"recipient": 0.95, "kind": 0.95, "reason": 0.90}

# Outside CI a checkout without the corpus skips these; under CI (CI=true) that fails.
pytestmark = pytest.mark.skipif(
    not (CORPUS_DIR / "expected.jsonl").exists() and not in_ci(),
    reason=f"labelled bounce corpus not found at {CORPUS_DIR}",
)


def _scorer():
    sys.path.insert(0, str(CORPUS_DIR))
    import score  # the corpus's own scoring functions

    return score


def _accuracy(splits: set[str] | None) -> dict[str, float]:
    score = _scorer()
    items = score.load_expected([str(CORPUS_DIR / "expected.jsonl")], splits, True, "low")
    totals = {metric: [0, 0] for metric in FLOORS}
    for expected in items:
        got = verdict(str(CORPUS_DIR / "corpus" / expected["file"]))
        for metric, ok in score.check(expected, got, {}, False).items():
            if metric in totals:
                totals[metric][0] += int(ok)
                totals[metric][1] += 1
    return {metric: ok / n for metric, (ok, n) in totals.items() if n}


@pytest.mark.parametrize("splits", [DEFAULT_SPLITS, None], ids=["default-splits", "all-splits"])
def test_corpus_accuracy(splits: set[str] | None) -> None:
    assert (CORPUS_DIR / "expected.jsonl").exists(), f"CI must not skip: no corpus at {CORPUS_DIR}"
    accuracy = _accuracy(splits)
    low = {m: f"{accuracy[m]:.1%}" for m, floor in FLOORS.items() if accuracy[m] < floor}
    assert not low, f"below the floor: {low} (all: {accuracy})"
