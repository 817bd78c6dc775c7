"""The webhook sender against real receivers: aiohttp servers on 127.0.0.1 that verify every
request with `standardwebhooks`, a TCP blackhole that never answers, the test nsd for names.

Every receiver here lives on loopback, which the URL policy refuses unless
`[webhooks] allow_private` is on: the tests that deliver use OPEN (allow_private=True), and the
refusal tests show what happens with it off.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from pathlib import Path

import aiohttp
import pytest

from config import build_config
from relay.dns import AsyncResolver
from relay.errors import SetupError
from relay.webhooks.addresses import Listener
from relay.webhooks.events import EventType
from relay.webhooks.guard import UrlPolicy, check_url
from relay.webhooks.schedule import next_attempt
from relay.webhooks.sender import (
    Delivery,
    Outcome,
    Sender,
    SenderSettings,
    SendResult,
    judge_failure,
    judge_response,
    parse_retry_after,
)
from relay.webhooks.signing import new_secret, new_webhook_id
from tests.rig.certs import self_signed
from tests.rig.names import HOOK_METADATA_HOST, HOOK_RECEIVER_HOST
from tests.rig.nsd import NsdServer
from tests.test_webhooks_events import EXAMPLES
from tests.webhook_receiver import Answer, Receiver, blackhole

OPEN = UrlPolicy(allow_private=True)
CLOSED = UrlPolicy(allow_private=False)
SETTINGS = SenderSettings(timeout=3.0, connect_timeout=1.0, max_in_flight=20, max_per_shop=1)
SECRET = new_secret()
BODY = EXAMPLES[EventType.DELIVERED]().body()
NO_DNS = ["127.0.0.1:1"]  # tests that use only IP literals ask no name server


def delivery(url: str, shop: str = "mein-shop", body: bytes = BODY) -> Delivery:
    return Delivery(shop, url, [SECRET], new_webhook_id(), body)


def sender(
    policy: UrlPolicy = OPEN,
    settings: SenderSettings = SETTINGS,
    nameservers: list[str] = NO_DNS,
    tls: ssl.SSLContext | None = None,
) -> Sender:
    return Sender(settings, policy, AsyncResolver(nameservers, timeout=2.0), ssl_context=tls)


async def send_one(url: str, answers: list[Answer], policy: UrlPolicy = OPEN) -> SendResult:
    async with Receiver(SECRET, answers) as hook, sender(policy) as s:
        return await s.send(delivery(hook.url.replace("/hook", url)))


# --- delivery and what a receiver sees ---------------------------------------------------------


def test_every_event_type_arrives_signed_and_verifies() -> None:
    events = [make() for make in EXAMPLES.values()]

    async def main() -> tuple[list[SendResult], Receiver, list[Delivery]]:
        async with Receiver(SECRET) as hook, sender() as s:
            sent = [delivery(hook.url, body=e.body()) for e in events]
            return [await s.send(d) for d in sent], hook, sent

    results, hook, sent = asyncio.run(main())
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * len(events)
    assert [r.error for r in hook.received] == [""] * len(events)  # every signature verified
    assert [r.payload for r in hook.received] == [e.payload() for e in events]
    assert [r.headers["webhook-id"] for r in hook.received] == [d.webhook_id for d in sent]
    assert {r.headers["Content-Type"] for r in hook.received} == {"application/json"}
    assert {r.payload["type"] for r in hook.received} == {str(t) for t in EventType}


def test_500s_then_success_with_the_same_webhook_id() -> None:
    """The endpoint fails twice (500, then 503 asking for 1 s), then takes the event: the three
    POSTs carry one webhook-id (the shop drops repeats by it), each freshly signed."""
    answers = [
        Answer(500, body=b"database is down"),
        Answer(503, {"Retry-After": "1"}),
        Answer(204),
    ]

    async def main() -> tuple[list[SendResult], list[float], Receiver]:
        async with Receiver(SECRET, answers) as hook, sender() as s:
            event, results, waits, first = delivery(hook.url), [], [], time.time()
            while not results or results[-1].outcome is not Outcome.DELIVERED:
                results.append(await s.send(event))
                if results[-1].outcome is Outcome.DELIVERED:
                    break
                now = time.time()
                when = next_attempt(
                    len(results), first, now, schedule=(0.05, 0.1), max_age=30,
                    retry_after=results[-1].retry_after,
                )  # fmt: skip
                assert when is not None
                waits.append(when - now)
                await asyncio.sleep(when - now)
            return results, waits, hook

    results, waits, hook = asyncio.run(main())
    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.RETRY, Outcome.DELIVERED]
    assert results[0].why == "HTTP 500: database is down" and results[0].status == 500
    assert results[1].retry_after == 1.0
    assert waits[0] < 0.5 and waits[1] >= 1.0  # the schedule, then the receiver's Retry-After
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1
    assert all(r.error == "" for r in hook.received)


def test_410_gone_says_stop() -> None:
    result = asyncio.run(send_one("/hook", [Answer(410, body=b"endpoint removed")]))
    assert result.outcome is Outcome.GONE and result.status == 410
    assert "endpoint removed" in result.why and "asks to stop" in result.why


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_and_as_a_date(status: int) -> None:
    in_90s = email.utils.formatdate(time.time() + 90, usegmt=True)
    seconds = asyncio.run(send_one("/hook", [Answer(status, {"Retry-After": "120"})]))
    dated = asyncio.run(send_one("/hook", [Answer(status, {"Retry-After": in_90s})]))
    assert seconds.outcome is dated.outcome is Outcome.RETRY
    assert seconds.retry_after == 120
    assert dated.retry_after is not None and 85 <= dated.retry_after <= 91
    assert next_attempt(1, 0, 0, retry_after=seconds.retry_after, rand=0.5) == 120


def test_other_4xx_are_refused_with_the_receivers_words() -> None:
    result = asyncio.run(send_one("/hook", [Answer(401, body=b"bad signature\r\n<script>")]))
    assert result.outcome is Outcome.REFUSED and result.status == 401
    assert result.why == "HTTP 401: bad signature <script>"


def test_redirects_are_not_followed() -> None:
    async def main() -> tuple[SendResult, Receiver]:
        answers = [Answer(307, {"Location": "/elsewhere"})]
        async with Receiver(SECRET, answers) as hook, sender() as s:
            return await s.send(delivery(hook.url)), hook

    result, hook = asyncio.run(main())
    assert result.outcome is Outcome.REFUSED
    assert "redirect to /elsewhere not followed" in result.why
    assert [r.path for r in hook.received] == ["/hook"]  # /elsewhere never asked


def test_the_response_read_is_capped() -> None:
    """A receiver that answers 500 and then streams a body forever: the sender reads a few KB,
    hangs up, and answers at once instead of waiting out the timeout."""
    started = time.monotonic()
    result = asyncio.run(send_one("/hook", [Answer(500, body=b"x" * 65536, endless=True)]))
    assert time.monotonic() - started < SETTINGS.timeout
    assert result.outcome is Outcome.RETRY and result.status == 500
    assert len(result.why) < 250


def test_a_closed_port_is_retried() -> None:
    async def main() -> SendResult:
        with blackhole() as port:
            pass  # closed again: nothing listens on that port now
        async with sender() as s:
            return await s.send(delivery(f"http://127.0.0.1:{port}/hook"))

    result = asyncio.run(main())
    assert result.outcome is Outcome.RETRY
    assert result.why.startswith("connection refused by 127.0.0.1:")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (299, Outcome.DELIVERED),
        (301, Outcome.REFUSED),
        (308, Outcome.REFUSED),
        (400, Outcome.REFUSED),
        (401, Outcome.REFUSED),
        (404, Outcome.REFUSED),
        (408, Outcome.RETRY),  # the receiver timed out reading: try again
        (410, Outcome.GONE),
        (413, Outcome.REFUSED),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (504, Outcome.RETRY),
    ],
)
def test_what_each_answer_means(status: int, outcome: Outcome) -> None:
    """Standard Webhooks, "Delivery success and failure"; refused is retried on the schedule
    too (see relay/webhooks/sender.py), but status views tell it apart."""
    assert judge_response(status, {}, b"", 0.0).outcome is outcome


def test_what_each_failure_means() -> None:
    """Failures without an answer that the tests below cannot stage on loopback."""
    connect = judge_failure(aiohttp.ConnectionTimeoutError(), SETTINGS)
    assert (connect.outcome, connect.why) == (Outcome.RETRY, "no connection within 1s")
    cut = judge_failure(aiohttp.ServerDisconnectedError(), SETTINGS)
    assert cut.outcome is Outcome.RETRY and cut.why.startswith("ServerDisconnectedError")
    reset = judge_failure(ConnectionResetError(104, "Connection reset by peer"), SETTINGS)
    assert reset.outcome is Outcome.RETRY and "reset" in reset.why


def test_retry_after_forms() -> None:
    now = 1_767_261_600.0
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after("Thu, 01 Jan 2026 10:01:00 GMT", now) == 60
    assert parse_retry_after("Thu, 01 Jan 2026 09:00:00 GMT", now) == 0  # in the past
    for bad in (None, "", "soon", "-5", "1.5", "Thu, 99 Foo 2026", "\u00b2", "\u0663", "9" * 13):
        assert parse_retry_after(bad, now) is None, bad


@pytest.mark.parametrize("value", ["\u00b2", "9" * 5000])
def test_judge_response_survives_any_retry_after(value: str) -> None:
    """Review 3: str.isdigit() is true for "²" and for numbers longer than int()'s 4300-digit
    limit; int() raised, the error escaped Sender.send and left the outbox row leased."""
    result = judge_response(503, {"Retry-After": value}, b"", 0.0)
    assert result.outcome is Outcome.RETRY


def test_send_to_a_receiver_with_a_superscript_retry_after_returns_retry() -> None:
    # A real receiver on loopback answering 503 with `Retry-After: ²` (UTF-8 on the wire).
    result = asyncio.run(send_one("/hook", [Answer(503, {"Retry-After": "\u00b2"})]))
    assert result.outcome is Outcome.RETRY
    assert result.status == 503


def test_settings_from_relay_toml(tmp_path: Path) -> None:
    config = build_config({}, tmp_path / "relay.toml")
    assert SenderSettings.from_config(config) == SenderSettings(10.0, 5.0, 100, 1)
    assert config.webhooks.max_age == 86400 and config.webhooks.allow_private is False
    broken = build_config({"webhooks": {"max_per_shop": 0}}, tmp_path / "relay.toml")
    with pytest.raises(SetupError, match=r"webhooks\.max_per_shop in relay.toml"):
        SenderSettings.from_config(broken)


# --- a receiver that never answers --------------------------------------------------------------


def test_a_hanging_receiver_costs_its_timeout_and_delays_no_other_shop() -> None:
    """Shop 'slow' accepts TCP and never answers; shop 'fast' gets its five events at once, while
    slow's first POST waits out [webhooks] timeout (3 s here) and its second waits its turn."""

    async def main() -> tuple[list[SendResult], list[float], float]:
        with blackhole() as port:
            async with Receiver(SECRET) as hook, sender() as s:
                started = time.monotonic()
                slow = [
                    asyncio.create_task(s.send(delivery(f"http://127.0.0.1:{port}/h", "slow")))
                    for _ in range(2)
                ]
                handed = [delivery(hook.url, "fast") for _ in range(5)]
                fast = [asyncio.create_task(s.send(d)) for d in handed]
                assert all(r.outcome is Outcome.DELIVERED for r in await asyncio.gather(*fast))
                fast_done = time.monotonic() - started
                # one at a time per shop: in the order handed over
                arrived = [r.headers["webhook-id"] for r in hook.received]
                assert arrived == [d.webhook_id for d in handed]
                slow_results, slow_done = [], []
                for task in slow:
                    slow_results.append(await task)
                    slow_done.append(time.monotonic() - started)
                return slow_results, slow_done, fast_done

    results, slow_done, fast_done = asyncio.run(main())
    print(f"fast shop: 5 events in {fast_done:.3f}s; slow shop done at {slow_done}")
    assert fast_done < 1.0  # the other shop is not held up (timeout is 3 s)
    for result in results:
        assert result.outcome is Outcome.RETRY
        assert result.why == "no answer within 3s (timeout)"
        assert 2.9 <= result.seconds <= 3 + 1.5  # the timeout, not more
    assert slow_done[0] < 3 + 1.5 and slow_done[1] >= 5.9  # one at a time per shop


def test_caps_per_shop_and_overall() -> None:
    """max_per_shop=3: three POSTs to one hanging shop run side by side; max_in_flight=3: a
    fourth shop's POST waits for a free slot."""
    settings = SenderSettings(timeout=1.0, connect_timeout=1.0, max_in_flight=3, max_per_shop=3)

    async def main() -> tuple[list[float], float]:
        with blackhole() as port:
            async with Receiver(SECRET) as hook, sender(settings=settings) as s:
                started = time.monotonic()
                stuck = [
                    asyncio.create_task(s.send(delivery(f"http://127.0.0.1:{port}/h", "slow")))
                    for _ in range(3)
                ]
                await asyncio.sleep(0.2)
                other = await s.send(delivery(hook.url, "other"))
                assert other.outcome is Outcome.DELIVERED
                other_done = time.monotonic() - started
                ends = [(await t, time.monotonic() - started)[1] for t in stuck]
                return ends, other_done

    ends, other_done = asyncio.run(main())
    assert max(ends) < 1.0 + 1.0  # side by side: about one timeout, not three
    assert other_done >= 0.95  # waited for one of the three slots


# --- SSRF at connect time -------------------------------------------------------------------------


def test_a_literal_loopback_url_is_refused_at_connect_time() -> None:
    """allow_private off: the URL form is fine (https, an address), so only the socket factory
    stands between the POST and 127.0.0.1; the receiver gets nothing."""

    async def main() -> tuple[SendResult, int]:
        async with Receiver(SECRET) as hook, sender(CLOSED) as s:
            result = await s.send(delivery(f"https://127.0.0.1:{hook.port}/hook"))
            return result, hook.count

    result, count = asyncio.run(main())
    assert result.outcome is Outcome.REFUSED
    assert "127.0.0.1 is loopback" in result.why
    assert count == 0


def test_the_relays_own_listener_is_refused_at_connect_time() -> None:
    """The receiver's port stands for the relay's own HTTP listener: refused even with
    allow_private on, and nothing reaches it."""

    async def main() -> tuple[SendResult, int]:
        async with Receiver(SECRET) as hook:
            policy = UrlPolicy(True, (Listener("http", "127.0.0.1", hook.port),))
            async with sender(policy) as s:
                return await s.send(delivery(hook.url)), hook.count

    result, count = asyncio.run(main())
    assert result.outcome is Outcome.REFUSED
    assert "the relay's own [http] listener" in result.why
    assert count == 0


def test_a_name_that_resolves_to_the_metadata_service_is_refused(nsd: NsdServer) -> None:
    async def main() -> SendResult:
        async with sender(OPEN, nameservers=[nsd.nameserver]) as s:
            return await s.send(delivery(f"https://{HOOK_METADATA_HOST}/latest/meta-data/"))

    result = asyncio.run(main())
    assert result.outcome is Outcome.REFUSED
    assert f"{HOOK_METADATA_HOST} resolves to 169.254.169.254" in result.why


def _tls_for(tmp_path: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a certificate for host, client context that trusts it)."""
    key, cert = self_signed(tmp_path, host)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


def test_https_to_a_name_through_the_relays_dns(nsd: NsdServer, tmp_path: Path) -> None:
    """receiver.hooks.example.org -> 127.0.0.1 by the test nsd; TLS verified against the test
    certificate, refused against the system's CAs."""
    server_tls, client_tls = _tls_for(tmp_path, HOOK_RECEIVER_HOST)

    async def main() -> tuple[SendResult, SendResult, Receiver]:
        async with Receiver(SECRET, tls=server_tls) as hook:
            url = f"https://{HOOK_RECEIVER_HOST}:{hook.port}/hook"
            async with sender(OPEN, nameservers=[nsd.nameserver], tls=client_tls) as s:
                trusted = await s.send(delivery(url))
            async with sender(OPEN, nameservers=[nsd.nameserver]) as s:
                untrusted = await s.send(delivery(url))
            return trusted, untrusted, hook

    trusted, untrusted, hook = asyncio.run(main())
    assert trusted.outcome is Outcome.DELIVERED
    assert hook.received[0].error == ""
    assert untrusted.outcome is Outcome.RETRY and "certificate" in untrusted.why
    assert hook.count == 1


def test_dns_rebinding_after_the_check_reaches_nothing(make_nsd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The name points at the receiver when the shop sets the URL (check_url passes); then it is
    changed to point at the metadata service. The POST resolves again and is refused."""
    zone = (Path(__file__).parent / "dns" / "hooks.example.org.zone").read_text()
    own = make_nsd({"hooks.example.org": zone})
    server_tls, client_tls = _tls_for(tmp_path, HOOK_RECEIVER_HOST)

    async def main() -> tuple[object, SendResult, int]:
        async with Receiver(SECRET, tls=server_tls) as hook:
            url = f"https://{HOOK_RECEIVER_HOST}:{hook.port}/hook"
            problem = await check_url(url, OPEN, AsyncResolver([own.nameserver]))
            rebound = zone.replace(
                "receiver                IN A    127.0.0.1", "receiver IN A 169.254.169.254"
            )
            await asyncio.to_thread(own.set_zone, "hooks.example.org", rebound)
            async with sender(OPEN, nameservers=[own.nameserver], tls=client_tls) as s:
                return problem, await s.send(delivery(url)), hook.count

    problem, result, count = asyncio.run(main())
    assert problem is None  # it was fine when it was checked
    assert result.outcome is Outcome.REFUSED
    assert "resolves to 169.254.169.254" in result.why
    assert count == 0
