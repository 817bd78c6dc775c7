"""The shop console on a real HTTP listener in this process, for tests that need no Postfix.

`running_console(tmp_path)` makes a relay directory (`relay init`, two shops made by `relay shop
add`), opens its store with a group writer and a real Submitter (in-process signing), and
serves the HTTP listener with the API and the console on a free loopback port, in a background
event loop. Messages go in through the Submitter, as SMTP and the API put them in (nothing is
delivered: no scheduler runs). `Client` is a small browser: cookies, no redirects followed, the
CSRF token read from the page.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from click.testing import CliRunner

from config import Config, load_config
from dns_checks.typos import likely_typo
from relay.cli import main
from relay.http import start_http
from relay.http.api.deps import api_deps
from relay.http.console import console_deps
from relay.runtime import settings_from
from relay.signing import Signer
from relay.store.db import Database, open_database
from relay.submit import SubmissionDeps, Submitter

SHOP_A, SHOP_B = "shop-a", "shop-b"
PASSWORD_A, PASSWORD_B = "password of shop a", "password of shop b"
SENDER_A, SENDER_B = "info@shop.example.com", "info@bare-shop.example.com"


def cli(root: Path, *args: str) -> str:
    """`relay --config ROOT/relay.toml ARGS...` in this process; its standard output (the
    listener's log lines, on standard error, stay out of it)."""
    done = CliRunner().invoke(main, ["--config", str(root / "relay.toml"), *args])
    assert done.exit_code == 0, done.output
    return done.stdout


@dataclass
class Console:
    root: Path
    base: str
    config: Config
    db: Database
    submitter: Submitter
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=60)

    def submit(
        self, shop: str, to: str, *, kind: str | None = None, order: str | None = None,
        html: str | None = None, subject: str = "Ihre Bestellung", sender: str = SENDER_A,
    ) -> str:  # fmt: skip
        """A message as a shop's software submits it; its queue id."""
        headers = [f"From: <{sender}>", f"To: <{to}>", f"Subject: {subject}"]
        headers += [f"X-Relay-Kind: {kind}"] if kind else []
        headers += [f"X-Relay-Order: {order}"] if order else []
        if html is None:
            headers.append("Content-Type: text/plain; charset=utf-8")
            body = "Guten Tag"
        else:
            headers.append("Content-Type: text/html; charset=utf-8")
            body = html
        data = ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()
        prepared = self.run(self.submitter.submit(shop, sender, [to], data, "test"))
        return prepared.id

    def client(self) -> Client:
        return Client(self.base)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.text)
        assert found, f"no CSRF field in the page:\n{self.text[:2000]}"
        return found.group(1)


@dataclass
class Client:
    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)  # every Set-Cookie header seen

    def request(
        self, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:  # fmt: skip
        parts = urlsplit(self.base)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            reply = Reply(response.status, response.headers, response.read().decode())
        finally:
            conn.close()
        for header in reply.headers.get_all("Set-Cookie") or []:
            self.set_cookies.append(header)
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or "1970" in (morsel["expires"] or ""):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return reply

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(
        self, path: str, form: dict[str, str] | list[tuple[str, str]],
        headers: dict[str, str] | None = None,
    ) -> Reply:  # fmt: skip
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, urlencode(form).encode(), sent)

    def login(self, shop: str, password: str, email: str = "") -> Reply:
        page = self.get("/console/login")
        form = {"csrf": page.csrf(), "shop": shop, "password": password, "email": email}
        return self.post("/console/login", form)

    def token(self, path: str = "/console/") -> str:
        return self.get(path).csrf()


def _set(text: str, key: str, value: str) -> str:
    """relay.toml with `key = value` (the first line that sets it; `value` is TOML)."""
    changed, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
    assert count == 1, key
    return changed


@contextmanager
def running_console(
    tmp_path: Path,
    nameserver: str = "127.0.0.1:9",
    public_url: str | None = None,
    login_wait: float | None = None,
    store_url: str | None = None,
) -> Iterator[Console]:
    """Two shops: shop-a (German, shop.example.com), shop-b (English, bare-shop.example.com).
    `nameserver`: where DNS lookups go (the default answers nothing: loopback only). Failed
    log-ins wait 200 ms, doubled per failure; `login_wait`: the longest wait before 429.
    `store_url`: an empty database to use (the `fresh_store` fixture) instead of SQLite."""
    root = tmp_path / "relay"
    CliRunner().invoke(main, ["init", "--dir", str(root)], catch_exceptions=False)
    toml = root / "relay.toml"
    text = _set(toml.read_text(), "nameservers", f'["{nameserver}"]')
    text = _set(text, "auth_failure_delay", '"200ms"')
    if store_url:
        text = _set(text, "url", json.dumps(store_url))
    if public_url:
        text = _set(text, "public_url", f'"{public_url}"')
    toml.write_text(text)
    for name, domain, password, language in (
        (SHOP_A, "shop.example.com", PASSWORD_A, "de"),
        (SHOP_B, "bare-shop.example.com", PASSWORD_B, "en"),
    ):
        cli(root, "shop", "add", name, "--domain", domain, "--sender", f"info@{domain}",
            "--sender-name", name.title(), "--language", language,
            "--password", password)  # fmt: skip
    config = load_config(toml)
    db = open_database(config.store.url, config.path.parent)
    writer = db.writer()
    writer.start()
    signer = Signer(0)
    settings = settings_from(config)
    submitter = Submitter(
        SubmissionDeps(db.read, writer.run, signer, settings, likely_typo, lambda: None)
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="console-test-loop", daemon=True)
    thread.start()
    api = api_deps(config, db.read, writer.run, submitter, settings.secret)
    console = console_deps(
        config, db.read, writer.run, settings.secret, submitter, api.renderer.render
    )
    if login_wait is not None:
        console = replace(console, login_wait=login_wait)
    start = start_http("127.0.0.1", 0, db.read, writer.run, settings.secret, api=api,
                       console=console)  # fmt: skip
    runner = asyncio.run_coroutine_threadsafe(start, loop).result(timeout=30)
    try:
        port = runner.addresses[0][1]
        yield Console(root, f"http://127.0.0.1:{port}", config, db, submitter, loop)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        writer.stop()
        signer.close()
        db.close()
