"""Headless Debian Chromium driven by Playwright for Python, for the unsubscribe page.

Uses the system browser (`/usr/bin/chromium`, Debian package `chromium`) through
`executable_path`; `playwright install` (a browser download) is never needed. Needs the pip
package `playwright` (it brings its own driver). The lead's end-to-end test imports
`confirm_in_browser`.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("RELAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONFIRM_BUTTON = "form[method=post] button[type=submit]"
TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Visit:
    before: str  # page text as opened (the confirm page)
    after: str  # page text after clicking confirm


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing (pip install playwright; no browser download)"
    return None


def require_browser() -> None:
    """Skip without a browser; under CI (env CI set) a missing browser is a failure."""
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the browser test cannot run: {reason}")
    pytest.skip(reason)


def open_and_confirm(url: str, screenshot: Path) -> Visit:
    """Open the unsubscribe link, screenshot the confirm page, click confirm."""
    from playwright.sync_api import sync_playwright

    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, sync_playwright() as pw:
        # An empty profile directory each time: no state leaks between runs.
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            timeout=TIMEOUT_MS, viewport={"width": 420, "height": 720},
        )  # fmt: skip
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url, wait_until="load")
            before = page.inner_text("body")
            page.screenshot(path=str(screenshot), full_page=True)
            with page.expect_navigation(wait_until="load"):
                page.click(CONFIRM_BUTTON)
            after = page.inner_text("body")
            page.screenshot(path=str(_done_name(screenshot)), full_page=True)
        finally:
            context.close()
    return Visit(before, after)


def confirm_in_browser(url: str, screenshot: Path) -> str:
    """Open `url`, save a screenshot of the page, click confirm; the text shown afterwards."""
    return open_and_confirm(url, screenshot).after


def _done_name(screenshot: Path) -> Path:
    return screenshot.with_name(f"{screenshot.stem}-done{screenshot.suffix}")
