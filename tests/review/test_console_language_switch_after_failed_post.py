"""Review 3: the language switch on a page answered to a failed POST leads to a bare 405.

`render()` gives every page a switch link made by `_switch_url` (relay/http/console/pages.py):
"the GET of its path with lang=". For the pages that answer a POST to a POST-only route (a
test e-mail to a mistyped address: 422 from `/console/design/test-email`; "check now" when DNS
is not set up: 503 from `/console/dns/check`), that GET has no route: aiohttp answers
`405: Method Not Allowed` in plain text, outside the console's pages (the `refusals` middleware
passes HTTP exceptions other than 404 through). The shop's staff click "English" to read the
error and lose the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.console_app import PASSWORD_A, SHOP_A, running_console


def test_switching_language_after_a_refused_test_email_shows_a_console_page(
    tmp_path: Path,
) -> None:
    with running_console(tmp_path) as console:
        client = console.client()
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        refused = client.post(
            "/console/design/test-email", {"csrf": client.token(), "to": "not an address"}
        )
        assert refused.status == 422
        switch = next(
            link.replace("&amp;", "&")
            for link in re.findall(r'href="([^"]+)"', refused.text)
            if "lang=en" in link
        )
        page = client.get(switch)
        if page.status in (302, 303):
            page = client.get(page.location)
        assert page.status == 200, f"GET {switch}: {page.status} {page.text[:60]!r}"
        assert '<html lang="en"' in page.text
