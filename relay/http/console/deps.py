"""What the console's handlers need, built once per relay (`console_deps`), and the request's
session (set by relay.http.console.sessions.middleware)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from config import Config
from relay.actions.dns import ShopDns
from relay.compose import TemplateRequest
from relay.model import Shop
from relay.smtp.auth import ShopAuthenticator
from relay.store.db import Read, Write
from relay.submit import Submitter

Render = Callable[[Shop, TemplateRequest], Awaitable[bytes]]
# A log-in that would wait longer than this for its turn in the AUTH throttle is refused with
# 429 and Retry-After at once: a browser should not hang on a request.
LOGIN_WAIT = 5.0


@dataclass(frozen=True)
class ConsoleDeps:
    read: Read
    write: Write
    config: Config
    cookie_key: bytes  # signs the console's cookies (derived from the relay's secret)
    secure: bool  # Secure cookies with the __Host- prefix (see secure_cookies)
    authenticator: ShopAuthenticator  # SMTP AUTH's throttle, which log-ins share
    dns: ShopDns  # the DNS page's lookups: one run per shop at a time, in a pool of their own
    submitter: Submitter | None = None  # test e-mails; None: the console offers none
    render: Render | None = None  # where templates are rendered (the API's Renderer)
    login_wait: float = LOGIN_WAIT


def console_deps(
    config: Config,
    read: Read,
    write: Write,
    secret: bytes,
    submitter: Submitter | None = None,
    render: Render | None = None,
) -> ConsoleDeps:
    return ConsoleDeps(
        read=read,
        write=write,
        config=config,
        cookie_key=derive_key(secret),
        secure=secure_cookies(config.http.listen, config.http.public_url),
        authenticator=ShopAuthenticator(read, write, config.submission.auth_failure_delay),
        submitter=submitter,
        render=render,
        dns=ShopDns(config, read, write),
    )


def derive_key(secret: bytes) -> bytes:
    """A key of its own for the console's cookies: a signature made for one purpose (opt-out
    links, bounce addresses) is never valid for another."""
    return hmac.new(secret, b"relay shop console cookies v1", hashlib.sha256).digest()


def secure_cookies(listen: str, public_url: str) -> bool:
    """Secure (and `__Host-` prefixed) unless the listener is loopback and the public URL is
    plain HTTP: a browser that reaches the console over HTTPS (a TLS proxy in front of a
    loopback listener included) gets cookies it never sends in clear."""
    if urlsplit(public_url).scheme == "https":
        return True
    host = listen.rpartition(":")[0].strip("[]")
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


CONSOLE = web.AppKey("console", ConsoleDeps)


def deps(request: web.Request) -> ConsoleDeps:
    return request.config_dict[CONSOLE]
