"""The HTTP listener against connections nobody uses: an idle one is closed after the keep-alive
time, and past the cap a new one is answered 503 at once, while the opt-out pages keep working
once connections are free again. Real parts: start_http on 127.0.0.1, plain sockets."""

from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from relay.http import limits
from tests.test_http_optout import make_db, make_shop, running_http


def _connect(base: str) -> socket.socket:
    url = urlsplit(base)
    return socket.create_connection((url.hostname, url.port), timeout=10)  # type: ignore[arg-type]


def _healthz(base: str) -> int:
    url = urlsplit(base)
    client = http.client.HTTPConnection(url.hostname, url.port, timeout=10)  # type: ignore[arg-type]
    try:
        client.request("GET", "/healthz")
        return client.getresponse().status
    finally:
        client.close()


def test_an_idle_connection_is_closed_after_the_keep_alive_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "KEEPALIVE_SECONDS", 1.0)  # aiohttp's default: an hour
    db = make_db(tmp_path / "relay.db", make_shop("moebel", "Möbel Müller", "de"))
    with running_http(db) as base:
        idle = _connect(base)
        started = time.monotonic()
        assert idle.recv(1) == b""  # closed by the server, never sent a byte
        assert time.monotonic() - started < 8, "the idle connection stayed open"
        idle.close()


def test_past_the_cap_a_new_connection_is_answered_503_and_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_CONNECTIONS", 5)
    db = make_db(tmp_path / "relay.db", make_shop("moebel", "Möbel Müller", "de"))
    with running_http(db) as base:
        held = [_connect(base) for _ in range(5)]
        time.sleep(0.3)  # the server has taken them
        extra = _connect(base)
        answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503 "), answer
        assert extra.recv(1) == b"", "the refused connection stayed open"
        extra.close()
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert _healthz(base) == 200  # free again
