"""POST one signed event to a shop's URL and say what came of it, in one value.

`Sender.send(delivery)` never raises for anything the network or the receiver does (only for the
caller's own mistakes: ValueError for a malformed webhook id or secret); it returns a
`SendResult` whose outcome is one of:
- delivered: a 2xx answer (Standard Webhooks, "Delivery success and failure");
- retry: the endpoint is down or busy (timeout, connection refused or reset, DNS trouble, a TLS
  error, 5xx, 408, 429); `retry_after` carries the receiver's Retry-After, if any;
- gone: 410, the endpoint asks to stop ("Sender should disable the webhook endpoint");
- refused: the endpoint answers but will not take it (any other 4xx, a 3xx redirect, which is
  never followed), or the URL policy refuses where the URL now leads.
Choice (written down in README): refused is retried on the same schedule as retry, up to
`[webhooks] max_age`. Standard Webhooks counts every non-2xx answer but 410 as a failure to
retry, and a 4xx is mostly a receiver the shop is fixing right now (a 401 after a secret was
rotated, a 404 during a deployment); giving up would lose events the SPEC promises. The outcome
is kept apart so that status views can say "your endpoint refuses our requests (HTTP 401)"
rather than "your endpoint is down".

Each send holds one slot of its shop (`max_per_shop`, 1 by default: a shop's events go out
one at a time, in the order they were handed in) and one of the whole sender
(`max_in_flight`); a receiver that never answers holds only its own shop's slot, for at most
`timeout`. Each call is meant to be its own task: `asyncio.create_task(sender.send(d))`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import aiohttp

from config import Config
from relay.errors import SetupError
from relay.webhooks.guard import AddressResolver, UrlPolicy, UrlProblem, parse_url
from relay.webhooks.session import AddressRefused, guarded_session
from relay.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

RESPONSE_CAP = 4096  # bytes of a response read (for the error words); the rest is dropped
EXCERPT = 200  # characters of a response body or Location kept in `why`
# delay-seconds is 1*DIGIT, and DIGIT is ASCII 0-9 only (RFC 9110 §10.2.3, RFC 5234 B.1):
# str.isdigit() also takes "²" and other digits int() refuses. Twelve digits are 30,000 years;
# a longer number (int() refuses more than 4300 digits) is not an answer we act on.
DELAY_SECONDS = re.compile(r"[0-9]{1,12}")


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GONE = "gone"
    REFUSED = "refused"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    why: str = ""  # what went wrong, in words ("" when delivered)
    status: int | None = None  # the HTTP status, when an answer came
    retry_after: float | None = None  # seconds the receiver asked us to wait (Retry-After)
    seconds: float = 0.0  # how long the POST took


@dataclass(frozen=True)
class Delivery:
    """One POST: what the outbox hands over."""

    shop: str  # whose slot it takes (per-shop concurrency)
    url: str
    # whsec_... signing secrets, the current one first; kept out of repr (logs, tracebacks)
    secrets: Sequence[str] = field(repr=False)
    webhook_id: str  # the same on every retry of this event
    body: bytes = field(repr=False)  # the event's JSON (relay.webhooks.events.Event.body)


@dataclass(frozen=True)
class SenderSettings:
    timeout: float = 10.0
    connect_timeout: float = 5.0
    max_in_flight: int = 100
    max_per_shop: int = 1

    @classmethod
    def from_config(cls, config: Config) -> SenderSettings:
        """[webhooks] of relay.toml; SetupError names a key whose value cannot work."""
        w = config.webhooks
        for key in ("timeout", "connect_timeout", "max_in_flight", "max_per_shop"):
            if getattr(w, key) <= 0:
                raise SetupError(f"webhooks.{key} in relay.toml must be more than 0")
        return cls(w.timeout, w.connect_timeout, w.max_in_flight, w.max_per_shop)


class Sender:
    """Use as `async with Sender(settings, policy, resolver) as sender:` inside the loop."""

    def __init__(
        self,
        settings: SenderSettings,
        policy: UrlPolicy,
        resolver: AddressResolver,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._policy = policy
        self._resolver = resolver
        self._ssl_context = ssl_context
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(
            total=settings.timeout, sock_connect=min(settings.connect_timeout, settings.timeout)
        )
        self._session: aiohttp.ClientSession | None = None
        self._all = asyncio.Semaphore(settings.max_in_flight)
        self._shops = KeyedLimiter(settings.max_per_shop)

    async def __aenter__(self) -> Sender:
        self._session = guarded_session(
            self._policy,
            self._resolver,
            max_connections=self.settings.max_in_flight,
            ssl_context=self._ssl_context,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, delivery: Delivery) -> SendResult:
        async with self._shops.slot(delivery.shop), self._all:
            started = time.monotonic()
            result = await self._post(delivery)
            return _with_seconds(result, time.monotonic() - started)

    async def _post(self, delivery: Delivery) -> SendResult:
        if self._session is None:
            raise RuntimeError("Sender used outside `async with`")
        target = parse_url(delivery.url)  # again: the policy or the URL may have changed
        if isinstance(target, UrlProblem):
            return SendResult(Outcome.REFUSED, f"the webhook URL is refused: {target.detail}")
        now = self._clock()
        headers = signed_headers(delivery.webhook_id, delivery.body, delivery.secrets, int(now))
        headers["Content-Type"] = "application/json"
        try:
            async with self._session.post(
                target.url,
                data=delivery.body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout,
            ) as response:
                head = await response.content.read(RESPONSE_CAP)
                if not response.content.at_eof():
                    response.close()  # a connection with unread data cannot be reused
                status, response_headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return judge_failure(exc, self.settings)
        try:
            return judge_response(status, response_headers, head, now)
        except Exception:  # whatever a receiver answers, the event gets an outcome
            log.exception("webhooks: the answer of %s could not be judged", target.url)
            return SendResult(Outcome.RETRY, f"HTTP {status}: answer not understood", status)


def judge_response(status: int, headers: Mapping[str, str], head: bytes, now: float) -> SendResult:
    """The outcome of an HTTP answer (Standard Webhooks, "Delivery success and failure")."""
    if 200 <= status < 300:
        return SendResult(Outcome.DELIVERED, status=status)
    words = f"HTTP {status}" + _excerpt(head)
    if status == 410:
        return SendResult(Outcome.GONE, f"{words}: the endpoint asks to stop", status=status)
    if 300 <= status < 400:
        location = _clean(headers.get("Location", ""))
        return SendResult(
            Outcome.REFUSED,
            f"HTTP {status}: redirect to {location or '?'} not followed; "
            "set the webhook URL to where it points",
            status=status,
        )
    retry_after = parse_retry_after(headers.get("Retry-After"), now)
    if status >= 500 or status in (408, 429):
        return SendResult(Outcome.RETRY, words, status=status, retry_after=retry_after)
    if 400 <= status < 500:
        return SendResult(Outcome.REFUSED, words, status=status, retry_after=retry_after)
    return SendResult(Outcome.RETRY, words, status=status, retry_after=retry_after)


def judge_failure(exc: Exception, settings: SenderSettings) -> SendResult:
    """The outcome of a POST that got no answer."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return SendResult(Outcome.RETRY, f"no connection within {settings.connect_timeout:g}s")
    if isinstance(exc, TimeoutError):  # aiohttp's total timeout, or the socket's read
        return SendResult(Outcome.RETRY, f"no answer within {settings.timeout:g}s (timeout)")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return SendResult(Outcome.RETRY, f"TLS certificate not valid: {exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, AddressRefused):
            return SendResult(Outcome.REFUSED, f"the webhook URL is refused: {cause}")
        if isinstance(cause, ConnectionRefusedError):
            return SendResult(Outcome.RETRY, f"connection refused by {exc.host}:{exc.port}")
        return SendResult(Outcome.RETRY, f"cannot connect to {exc.host}:{exc.port}: {cause}")
    if isinstance(exc, aiohttp.InvalidURL):
        return SendResult(Outcome.REFUSED, f"the webhook URL is refused: {exc}")
    return SendResult(Outcome.RETRY, f"{type(exc).__name__}: {_clean(str(exc))}".rstrip(": "))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; seconds from now."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if DELAY_SECONDS.fullmatch(text):
        return float(int(text))
    if text.isdigit():
        return None  # digits, but not 1 to 12 ASCII ones: ignored, the schedule decides
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - now)


def _clean(text: str) -> str:
    """A receiver's words made safe to show: one line, printable, short."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat[:EXCERPT] + ("..." if len(flat) > EXCERPT else "")


def _excerpt(head: bytes) -> str:
    words = _clean(head.decode("utf-8", errors="replace"))
    return f": {words}" if words else ""


def _with_seconds(result: SendResult, seconds: float) -> SendResult:
    return SendResult(result.outcome, result.why, result.status, result.retry_after, seconds)


class KeyedLimiter:
    """At most `limit` holders per key; a key's semaphore lives only while it is in use."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        semaphore, users = self._slots.get(key, (asyncio.Semaphore(self._limit), 0))
        self._slots[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._slots[key]
            if users == 1:
                del self._slots[key]
            else:
                self._slots[key] = (semaphore, users - 1)
