"""RFC 8058 3.1 wants the one-click unsubscribe URI to be HTTPS: an http:// `http.public_url`
outside loopback is warned about at start (the log) and by `relay status` (issue 13 item 8)."""

from __future__ import annotations

import pytest

from relay.unsubscribe import public_url_warning
from tests.harness import RelayProcess


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("https://relay.example.net", False),
        ("https://relay.example.net/relay/", False),
        ("http://127.0.0.1:8025", False),
        ("http://127.1.2.3:8025", False),
        ("http://[::1]:8025", False),
        ("http://localhost:8025", False),
        ("http://relay.example.net", True),
        ("http://192.0.2.10:8025", True),
        ("HTTP://relay.example.net", True),
        ("ftp://relay.example.net", True),
    ],
)
def test_which_urls_are_warned_about(url: str, warned: bool) -> None:
    warning = public_url_warning(url)
    assert (warning is not None) == warned
    if warning:
        assert url in warning and "RFC 8058" in warning and "https://" in warning


def test_status_and_the_start_log_warn_about_plain_http(relay_factory) -> None:  # type: ignore[no-untyped-def]
    quiet: RelayProcess = relay_factory(name="loopback")
    assert quiet.json("status")["relay_warnings"] == []
    relay: RelayProcess = relay_factory({"http": {"public_url": "http://relay.example.net"}})
    warnings = relay.json("status")["relay_warnings"]
    assert len(warnings) == 1 and "http://relay.example.net" in warnings[0]
    assert "WARNING relay: http.public_url" in relay.run("status").stdout
    relay.start()
    assert "is not https://" in relay.log_text()
