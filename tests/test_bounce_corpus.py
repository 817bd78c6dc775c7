"""Accuracy on the labelled bounce corpus (../shared/bounces), scored like score.py.

Fails below the floors, on the default splits and on all splits (the CRLF and bare-CR
copies included). The floors are the figures of the parser before reasons became a closed
type (issue 17's acceptance: never below them), so a change that loses one report is seen;
the verdicts are scored through bounces/score_adapter.py, as score.py scores them. Without
the corpus the test skips, except under CI (CI=true, as .ci/run sets it), where a missing
corpus is a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bounces.score_adapter import verdict
from tests.rig.tools import in_ci

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "bounces"
DEFAULT_SPLITS = {"bsd", "err", "not", "tmp", "flufl", "postfix"}
# (right, scored) per measure: the least this parser must get.
FLOORS = {
    "default-splits": {
        "kind": (501, 502),
        "recipient": (477, 481),
        "status": (452, 460),
        "reason": (466, 477),
        "reason_group": (471, 477),
        "action": (356, 362),
    },
    "all-splits": {
        "kind": (514, 515),
        "recipient": (490, 494),
        "status": (465, 473),
        "reason": (478, 490),
        "reason_group": (483, 490),
        "action": (369, 375),
    },
}
MEASURES = tuple(FLOORS["default-splits"])


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
    totals = {metric: [0, 0] for metric in MEASURES}
    for expected in items:
        got = verdict(str(CORPUS_DIR / "corpus" / expected["file"]))
        for metric, ok in score.check(expected, got, {}, False).items():
            if metric in totals:
                totals[metric][0] += int(ok)
                totals[metric][1] += 1
    return {metric: ok / n for metric, (ok, n) in totals.items() if n}


@pytest.mark.parametrize("splits", [DEFAULT_SPLITS, None], ids=["default-splits", "all-splits"])
def test_corpus_accuracy(splits: set[str] | None) -> None:
    floors = FLOORS["default-splits" if splits else "all-splits"]
    accuracy = _accuracy(splits)
    low = {
        m: f"{accuracy[m]:.2%} < {ok / n:.2%}"
        for m, (ok, n) in floors.items()
        if accuracy[m] < ok / n
    }
    assert not low, f"below the floor: {low} (all: {accuracy})"
