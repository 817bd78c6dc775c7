"""Accuracy on the labelled bounce corpus (../shared/bounces), scored like score.py.

Fails below the floors, on the default splits and on all splits (the CRLF and bare-CR
copies included); the floors sit just under the figures recorded in bench/README.md, so
a change that loses a few reports is seen. Without the corpus the test skips, except
under CI (CI=true, as .ci/run sets it), where a missing corpus is a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bounces.score_adapter import verdict
from tests.rig.tools import in_ci

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "bounces"
DEFAULT_SPLITS = {"bsd", "err", "not", "tmp", "flufl", "postfix"}
FLOORS = {
    "kind": 0.995,
    "recipient": 0.99,
    "status": 0.975,
    "reason": 0.965,
    "reason_group": 0.98,
}


@pytest.fixture(autouse=True)
def _corpus_present() -> None:
    if (CORPUS_DIR / "expected.jsonl").exists():
        return
    message = f"labelled bounce corpus not found at {CORPUS_DIR}"
    if in_ci():
        pytest.fail(f"{message}; CI must provide it (../shared/bounces)")
    pytest.skip(message)


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
