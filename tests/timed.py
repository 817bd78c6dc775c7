"""Run a piece of the relay's code in a child process with a deadline: a regex that backtracks
catastrophically holds the GIL and ignores Python-level timeouts, so only a process can be
stopped from outside. Used by the tests that prove an input's cost linear, not quadratic."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def seconds_to_run(code: str, deadline: float) -> float | None:
    """Seconds the snippet took, or None when it was still running at `deadline`."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=deadline
        )
    except subprocess.TimeoutExpired:
        return None
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started
