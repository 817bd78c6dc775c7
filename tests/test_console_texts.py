"""The console's words and pictures: every text a page asks for exists in German and English,
the language is chosen as README says, and the 30-day chart's bars stand for the figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from dns_checks.results import Status
from relay.http.console.chart import MAIN_HEIGHT, chart
from relay.http.console.i18n import Words, page_language
from relay.http.console.pages import NAV
from relay.http.console.texts import STATE_WORDS, TEXTS
from relay.model import State

CONSOLE = Path(__file__).resolve().parents[1] / "relay" / "http" / "console"
# t("key") or t('key') with a literal key, in templates and in the handlers.
_LITERAL = re.compile(r"""\bt\(\s*["']([a-z_.-]+)["']""")
# Keys built from a family and a value: each family's values are listed here.
FAMILIES = {
    "nav.": NAV,
    "level.": ("ok", "warning", "trouble", "too-few"),
    "status.": tuple(str(s) for s in Status),
    "need.": ("required", "recommended", "optional"),
    "lang.": ("de", "en"),
    "design.": ("primary", "text", "background"),
    "chart.": ("delivered", "deferred", "bounced", "complained", "opted_out"),
    "kind.": ("payment-info", "payment-reminder", "dunning", "payment-received", "refund"),
}


def test_every_text_a_page_asks_for_exists_in_both_languages() -> None:
    sources = [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("*.py")]
    found = {key for path in sources for key in _LITERAL.findall(path.read_text())}
    families = {key for key in found if key.endswith(".")}  # t("nav." ~ key) and the like
    assert families <= set(FAMILIES), families
    used = found - families
    assert len(used) > 100, sorted(used)
    used |= {family + value for family, values in FAMILIES.items() for value in values}
    missing = sorted(used - set(TEXTS))
    assert missing == []
    for key, (german, english) in TEXTS.items():
        assert german.strip() and english.strip(), key
        assert sorted(re.findall(r"{(\w+)}", german)) == sorted(re.findall(r"{(\w+)}", english)), (
            key
        )  # the same values go into both


def test_every_state_has_a_badge_in_both_languages() -> None:
    assert set(STATE_WORDS) == {str(s) for s in State}


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "shop", "chosen"),
    [
        ("", "", "", "en", "en"),  # the shop's language
        ("lang=de", "", "", "en", "de"),  # the switch
        ("", "relay_console_lang=en", "", "de", "en"),  # the remembered switch
        ("lang=fr", "relay_console_lang=xx", "", "de", "de"),  # nothing we speak: the shop's
        ("", "", "fr;q=1, en;q=0.8, de;q=0.5", None, "en"),  # before log-in: the browser's
        ("", "", "fr, it", None, "de"),
    ],
)
def test_the_page_language(query: str, cookie: str, accept: str, shop: str | None,
                           chosen: str) -> None:  # fmt: skip
    headers = {"Cookie": cookie} if cookie else {}
    if accept:
        headers["Accept-Language"] = accept
    request = make_mocked_request("GET", f"/console/orders?{query}", headers=headers)
    assert page_language(request, shop) == chosen


def test_times_and_rates_are_written_as_each_language_writes_them() -> None:
    german, english = Words("de"), Words("en")
    assert german.when(1_752_573_600.0) == "15.07.2025 10:00 UTC"
    assert english.when(1_752_573_600.0) == "15 Jul 2025, 10:00 UTC"
    assert (german.percent(0.0123), english.percent(0.0123)) == ("1,23 %", "1.23 %")
    assert german("order.title", order="1001") == "Bestellung 1001"


def test_the_bars_stand_for_the_figures() -> None:
    days = [
        {"day": f"2025-07-{d:02d}", "delivered": d, "deferred": 1, "bounced": d % 2,
         "complained": 1 if d == 3 else 0, "opted_out": 0}
        for d in range(1, 31)
    ]  # fmt: skip
    names = {k: k for k in ("delivered", "deferred", "bounced", "complained", "opted_out")}
    drawn = chart(days, names)
    assert drawn.main_max == 30 + 1 + 0 and drawn.strip_max == 1
    day_30 = [b for b in drawn.bars if b.label.startswith("2025-07-30:")]
    assert [b.label for b in day_30] == ["2025-07-30: 30 delivered", "2025-07-30: 1 deferred"]
    assert sum(b.height for b in day_30) == pytest.approx(MAIN_HEIGHT * 31 / 31)
    assert day_30[0].y + day_30[0].height == pytest.approx(drawn.main_bottom)  # stacked upwards
    assert all(b.x >= 0 and b.x + b.width <= drawn.width for b in drawn.bars)
    complaint = next(b for b in drawn.bars if "complained" in b.label)
    assert complaint.label == "2025-07-03: 1 complained"
    assert complaint.y >= drawn.strip_top and complaint.y + complaint.height == drawn.strip_bottom
    empty = chart([{**d, **dict.fromkeys(names, 0)} for d in days], names)
    assert empty.bars == []  # nothing sent: no bar, no division by zero
