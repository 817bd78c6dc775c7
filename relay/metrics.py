"""Prometheus metrics of `relay serve` (SPEC "Several nodes": every node serves `/metrics`).

Counted where things happen, once they are committed: messages accepted, recipients
suppressed or failed at submission, bounced by a report, and reports by kind through the
store's after-commit hooks (relay.store.hooks); delivery results and the delivery latency by
the scheduler. All through `observe()`. Every worker process counts in files of its own in one
directory per run (prometheus-client's multiprocess mode: `<data_dir>/metrics`, emptied when
`relay serve` starts), and the HTTP worker adds them up at each scrape.

Queue depth, the oldest due recipient's age, the webhook backlog and whether the store answers
are read from the database at scrape time (`StoreCollector`), never kept per event.

Names follow Prometheus' conventions: `relay_messages_delivered_total{shop,kind}` (one per
recipient: a message to two recipients is delivered twice), seconds for durations.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from relay.store.db import Read
from relay.store.errors import StoreError
from relay.store.queue import oldest_due_age, waiting_counts
from relay.store.sql import Conn

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OUTCOMES = {
    "accepted": "Messages accepted (answered 250 or 202)",
    "delivered": "Recipients the remote server accepted",
    "deferred": "Delivery attempts that failed for now (retried later)",
    "bounced": "Recipients bounced: a 5xx reply, a report, or the queue lifetime ended",
    "failed": "Recipients that can never be delivered (the address or the domain)",
    "suppressed": "Recipients not sent to on purpose (blocked, opted out, kind disabled)",
}
# Seconds from acceptance to the remote server's 250: from a fast local delivery to retries
# that took a day.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)
# The classic text format every Prometheus reads (our names are plain ASCII, so the text is
# the same in the newer 1.0.0 format that prometheus-client announces by default).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BacklogReader = Callable[[Conn], dict[str, int]]
_backlog_readers: list[BacklogReader] = []


def prepare_run(data_dir: Path) -> Path:
    """A fresh, private directory for this run's counters (called by `relay serve` before
    any worker starts; the workers inherit the environment)."""
    path = data_dir / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


@functools.cache
def _instruments() -> tuple[dict[str, Any], Any, Any]:
    # Imported here: prometheus-client picks its storage (files or memory) at import, and
    # `relay serve` sets the directory first.
    from prometheus_client import Counter, Histogram

    counters = {
        name: Counter(f"relay_messages_{name}", text, ["shop", "kind"], registry=None)
        for name, text in OUTCOMES.items()
    }
    reports = Counter(
        "relay_bounce_reports", "Bounce and complaint reports processed", ["kind"], registry=None
    )
    latency = Histogram(
        "relay_delivery_latency_seconds",
        "Seconds from acceptance to the remote server's 250",
        buckets=LATENCY_BUCKETS,
        registry=None,
    )
    return counters, reports, latency


def observe(event: str, shop: str, kind: str, *, since: float | None = None) -> None:
    """Count one `event`: an outcome of OUTCOMES for a recipient (or a message: accepted) of
    `shop` with notification `kind`, or `report` (kind: the report's). `since`: when the
    message was accepted, for the latency of a delivery."""
    counters, reports, latency = _instruments()
    if event == "report":
        reports.labels(kind or "other").inc()
        return
    counter = counters.get(event)
    if counter is None:
        return
    counter.labels(shop or "", kind or "").inc()
    if event == "delivered" and since is not None:
        latency.observe(max(0.0, time.time() - since))


def add_backlog_reader(reader: BacklogReader) -> None:
    """Where the webhook outbox tells its backlog: `reader(conn)` -> {shop: events waiting}.
    The collector asks every reader at each scrape (none: the metric has no samples)."""
    if reader not in _backlog_readers:
        _backlog_readers.append(reader)


class StoreCollector:
    """What the database says at scrape time (a custom collector: no per-event state)."""

    def __init__(self, read: Read, node: str, version: str) -> None:
        self.read, self.node, self.version = read, node, version

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        info = GaugeMetricFamily("relay_node_info", "This node", labels=["node", "version"])
        info.add_metric([self.node, self.version], 1)
        yield info
        up = GaugeMetricFamily("relay_store_up", "1 when the database answered this scrape")
        depth = GaugeMetricFamily(
            "relay_queue_depth", "Recipients not done yet, per state", labels=["state"]
        )
        oldest = GaugeMetricFamily(
            "relay_queue_oldest_due_age_seconds",
            "How long the longest-waiting due recipient has been due (0: none is due)",
        )
        backlog = GaugeMetricFamily(
            "relay_webhook_backlog", "Webhook events waiting to be sent", labels=["shop"]
        )
        try:
            conn = self.read()
            for state, count in waiting_counts(conn).items():
                depth.add_metric([state], count)
            oldest.add_metric([], oldest_due_age(conn))
            for reader in _backlog_readers:
                for shop, count in sorted(reader(conn).items()):
                    backlog.add_metric([shop], count)
        except StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (up, depth, oldest, backlog)


def exposition(read: Read, node: str, version: str) -> tuple[bytes, str]:
    """The text of one scrape and its content type: this run's counters (every worker's, in
    multiprocess mode) and what the store says now."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:  # one process without a directory (tests): the live counters themselves
        counters, reports, latency = _instruments()
        for collector in (*counters.values(), reports, latency):
            registry.register(collector)
    registry.register(StoreCollector(read, node, version))
    return generate_latest(registry), CONTENT_TYPE


def relay_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shop-relay")
    except PackageNotFoundError:
        return "unknown"
