"""A customer opens the unsubscribe link in a real browser (headless Chromium) and confirms.

Skips when Chromium or Playwright is missing; fails instead when the env var CI is set.
"""

from pathlib import Path

import pytest

from tests.browser import open_and_confirm, require_browser
from tests.test_http_optout import link, make_db, make_shop, optout, running_http

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.mark.parametrize(
    ("language", "sender_name", "label", "done"),
    [
        ("de", "Mein Shop", "Zahlungsbestätigungen", "Abgemeldet"),
        ("en", "My Shop", "payment confirmations", "Unsubscribed"),
    ],
)
def test_unsubscribe_in_browser(
    tmp_path: Path, language: str, sender_name: str, label: str, done: str
) -> None:
    require_browser()
    db = make_db(tmp_path / "relay.db", make_shop("shop", sender_name, language))
    name = "unsubscribe-page.png" if language == "de" else f"unsubscribe-page-{language}.png"
    screenshot = ARTIFACTS / name
    with running_http(db) as base:
        url = link(base, "shop")
        visit = open_and_confirm(url, screenshot)
    assert sender_name in visit.before and label in visit.before
    assert done in visit.after and sender_name in visit.after
    stored = optout(db, "shop")
    assert stored is not None and stored.source == "link"
    assert screenshot.stat().st_size > 0
