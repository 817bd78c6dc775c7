"""`/metrics` (SPEC "Several nodes"): the Prometheus text format, counted by every worker and
added up at the scrape (multiprocess mode), the queue read from the database at scrape time,
for loopback clients and the networks of `[http] metrics_allow` only."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client.parser import text_string_to_metric_families

from relay import metrics as relay_metrics
from relay.http.app import make_app
from relay.http.metrics_page import MetricsSettings, parse_networks
from relay.store.db import open_database
from tests.harness import RelayProcess, submit
from tests.rig import names
from tests.rig.tools import wait_until


def scrape(relay: RelayProcess) -> dict[tuple[str, tuple], float]:
    """Every sample of the node's /metrics: (name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{relay.http_port}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.backends("sqlite", "postgresql")
def test_every_worker_counts_and_the_scrape_adds_them_up(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"relay": {"workers": 2}}).start()
    relay.run("blocks", "add", names.BUSY, "--note", "test")
    shop, kind = "mein-shop", "payment-info"
    for n in range(6):  # sessions spread over both workers (SO_REUSEPORT)
        submit(relay, names.CUSTOMER, f"X-Relay-Order: M-{n}", f"X-Relay-Kind: {kind}")
    submit(relay, names.UNKNOWN_USER, "X-Relay-Order: M-7", f"X-Relay-Kind: {kind}")
    submit(relay, names.BUSY, "X-Relay-Order: M-8", f"X-Relay-Kind: {kind}")  # blocked
    submit(relay, f"x@{names.NXDOMAIN_DOMAIN}", "X-Relay-Order: M-9", f"X-Relay-Kind: {kind}")
    submit(relay, names.MAILBOX_FULL, "X-Relay-Order: M-10", f"X-Relay-Kind: {kind}")
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=6)
    relay.wait_state(names.MAILBOX_FULL, {"bounced"})  # Postfix's DSN, through a report

    expected = {"accepted": 10, "delivered": 7, "bounced": 2, "failed": 1, "suppressed": 1}

    def counted() -> dict[str, float]:
        found = scrape(relay)
        return {
            outcome: sample(found, f"relay_messages_{outcome}_total", shop=shop, kind=kind)
            for outcome in expected
        }

    # Every outcome is counted once it is committed (the bounce through Postfix's DSN last).
    wait_until(lambda: counted() == expected, 60, f"the counts {expected}")
    found = scrape(relay)
    assert sample(found, "relay_delivery_latency_seconds_count") == 7  # accepted to 250
    assert 0 < sample(found, "relay_delivery_latency_seconds_sum") < 7 * 60
    assert sample(found, "relay_bounce_reports_total", kind="bounce") == 1
    assert sample(found, "relay_store_up") == 1
    assert sample(found, "relay_queue_depth", state="queued") == 0
    assert ("relay_queue_oldest_due_age_seconds", ()) in found
    assert [v for (name, _), v in found.items() if name == "relay_node_info"] == [1]
    counting = {p.name for p in (relay.root / "var" / "metrics").glob("counter_*.db")}
    assert len(counting) == 2, counting  # both workers counted; the scrape added them up
    # A restart empties the run's counters (the directory is new per `relay serve`).
    relay.stop()
    relay.start()
    found = scrape(relay)
    assert sample(found, "relay_messages_accepted_total", shop=shop, kind=kind) == 0


def test_queue_depth_and_the_webhook_backlog_are_read_at_scrape_time(tmp_path: Path) -> None:
    from tests.store_fixtures import new_database, queue_message

    db = new_database(tmp_path)
    queue_message(db, "a@example.org", "b@example.org")
    relay_metrics.add_backlog_reader(lambda conn: {"shop": 3})
    try:
        text, _ = relay_metrics.exposition(db.read, "node-a", "1.0")
    finally:
        relay_metrics._backlog_readers.clear()
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }
    assert found[("relay_queue_depth", (("state", "queued"),))] == 2
    assert found[("relay_webhook_backlog", (("shop", "shop"),))] == 3
    assert found[("relay_node_info", (("node", "node-a"), ("version", "1.0")))] == 1
    db.close()


@pytest.mark.parametrize(
    ("peer", "allow", "status"),
    [
        ("127.0.0.1", [], 200),
        ("127.8.9.10", [], 200),
        ("::1", [], 200),
        ("::ffff:127.0.0.1", [], 200),
        ("192.0.2.10", [], 403),  # TEST-NET-1 (RFC 5737): a fake request's peer, never dialled
        ("192.0.2.10", ["192.0.2.0/24"], 200),
        ("198.51.100.1", ["192.0.2.0/24"], 403),
        ("2001:db8::1", ["192.0.2.0/24"], 403),
    ],
)
def test_metrics_answer_loopback_and_the_allowed_networks_only(
    tmp_path: Path, peer: str, allow: list[str], status: int
) -> None:
    import asyncio
    from unittest import mock

    db = open_database("sqlite:///relay.db", tmp_path, create=True)
    settings = MetricsSettings(db.read, "node-a", "1.0", parse_networks(allow))
    app = make_app(db.read, None, b"k" * 32, metrics=settings)  # type: ignore[arg-type]
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        (peer, 40000) if key == "peername" else default
    )
    request = make_mocked_request("GET", "/metrics", app=app, transport=transport)
    [route] = [
        r
        for r in app.router.routes()
        if r.method == "GET" and r.resource and r.resource.canonical == "/metrics"
    ]

    async def call() -> web.StreamResponse:
        return await route.handler(request)

    response = asyncio.run(call())
    assert response.status == status
    body = response.body.decode() if isinstance(response.body, bytes) else ""
    if status == 403:
        assert response.content_type == "application/problem+json"
        assert "relay_" not in body  # not one series, not one shop name
    else:
        assert "relay_store_up 1.0" in body
    db.close()


def test_an_unreachable_metrics_scrape_is_refused_over_http_without_series(
    relay_factory,
) -> None:  # type: ignore[no-untyped-def]
    """Over real HTTP the client is loopback (tests never leave it): a listed network does not
    narrow what loopback gets, and a path below /metrics is no metrics page."""
    relay: RelayProcess = relay_factory(
        {"relay": {"workers": 1}, "http": {"metrics_allow": ["192.0.2.0/24"]}}
    ).start()
    assert sample(scrape(relay), "relay_store_up") == 1
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{relay.http_port}/metrics/x", timeout=10)
    assert caught.value.code == 404
