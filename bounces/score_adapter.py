"""Adapter for /work/shared/bounces/score.py: `--py bounces.score_adapter:verdict`."""

from __future__ import annotations

from pathlib import Path

from bounces import parse_report, report_to_dict


def verdict(path: str) -> dict:
    return report_to_dict(parse_report(Path(path).read_bytes()))
