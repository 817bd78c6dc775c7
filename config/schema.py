"""The settings of relay.toml as frozen dataclasses.

Each field carries the kind of value it accepts (metadata "kind") and, for numbers, durations
and sizes, the range that leaves a working relay (metadata "range", with the reason shown when a
value falls outside), so one loader can check every key and name it exactly in errors.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MB = 1000 * 1000


def _kind(
    kind: str, low: float | None = None, high: float | None = None, why: str = ""
) -> dict[str, Any]:
    """`low`/`high`: inclusive bounds (None: open); `why`: said when a value is out of range."""
    if low is None and high is None:
        return {"kind": kind}
    return {"kind": kind, "range": (low, high, why)}


_PORT = (1, 65535, "a TCP port")
# A message is stored as one SQLite BLOB (at most 1,000,000,000 bytes) and read into memory to
# be signed and sent: 512 MB leaves room for both. 1 KB: nothing smaller is a message.
_MESSAGE_SIZE = (1000, 512 * MB, "")
_POSITIVE = (0.001, None, "")


@dataclass(frozen=True)
class RelaySection:
    hostname: str = field(metadata=_kind("str"))
    data_dir: Path = field(metadata=_kind("path"))
    # 0: one per CPU core. More processes than cores only add contention for SQLite's one
    # writer; 64 covers any machine this single-database design is meant for.
    workers: int = field(metadata=_kind("int", 0, 64, "0: one per CPU core"))
    # The event loop of each worker: "uvloop" (libuv; less CPU per message in the loop and its
    # socket writes) or "asyncio" (the standard library's, e.g. to rule uvloop out).
    event_loop: str = field(metadata=_kind("str"))


@dataclass(frozen=True)
class SubmissionSection:
    listen: tuple[str, ...] = field(metadata=_kind("addresses"))
    listen_tls: tuple[str, ...] = field(metadata=_kind("addresses"))
    max_message_size: int = field(metadata=_kind("size", *_MESSAGE_SIZE))
    max_sessions: int = field(metadata=_kind("int", 2, 100_000, ""))
    max_unauthenticated: int = field(metadata=_kind("int", 0, 100_000, "0: half of max_sessions"))
    max_unauthenticated_per_address: int = field(metadata=_kind("int", 1, 100_000, ""))
    auth_timeout: float = field(metadata=_kind("duration", 1, 600, ""))
    tls_cert: str = field(metadata=_kind("str"))
    tls_key: str = field(metadata=_kind("str"))
    auth_failure_delay: float = field(metadata=_kind("duration", 0, 30, "0: no delay"))
    trusted_clients: tuple[str, ...] = field(metadata=_kind("list"))
    signing_workers: int = field(metadata=_kind("int", 0, 64, "0: sign in-process"))


@dataclass(frozen=True)
class InboundSection:
    listen: tuple[str, ...] = field(metadata=_kind("addresses"))
    bounce_domain: str = field(metadata=_kind("str"))
    complaint_address: str = field(metadata=_kind("str"))
    max_message_size: int = field(metadata=_kind("size", *_MESSAGE_SIZE))


@dataclass(frozen=True)
class HttpSection:
    listen: str = field(metadata=_kind("address"))
    public_url: str = field(metadata=_kind("str"))
    api_max_body: int = field(metadata=_kind("size", 1024, 1024**3, ""))
    render_workers: int = field(metadata=_kind("int", 0, 64, "0: a thread of worker 0"))
    metrics_allow: tuple[str, ...] = field(metadata=_kind("networks"))


@dataclass(frozen=True)
class DeliverySection:
    smtp_port: int = field(metadata=_kind("int", *_PORT))
    nameservers: tuple[str, ...] = field(metadata=_kind("list"))
    sending_ips: tuple[str, ...] = field(metadata=_kind("list"))
    retry_schedule: tuple[float, ...] = field(metadata=_kind("schedule"))
    max_age: float = field(metadata=_kind("duration", *_POSITIVE))
    allow_private_mx: bool = field(metadata=_kind("bool"))
    max_connections: int = field(metadata=_kind("int", 1, 100_000, ""))
    max_per_destination: int = field(metadata=_kind("int", 1, 100_000, ""))
    connect_timeout: float = field(metadata=_kind("duration", *_POSITIVE))
    command_timeout: float = field(metadata=_kind("duration", *_POSITIVE))
    data_timeout: float = field(metadata=_kind("duration", *_POSITIVE))
    require_tls: bool = field(metadata=_kind("bool"))
    relayhost: str = field(metadata=_kind("str"))
    relayhost_auth: str = field(metadata=_kind("str"))
    relayhost_tls: str = field(metadata=_kind("str"))


@dataclass(frozen=True)
class DnsSection:
    spf_include: str = field(metadata=_kind("str"))
    recheck_every: float = field(metadata=_kind("duration", 60, None, ""))


@dataclass(frozen=True)
class FallbackSection:
    address: str = field(metadata=_kind("str"))
    dkim_domain: str = field(metadata=_kind("str"))
    dkim_selector: str = field(metadata=_kind("str"))


@dataclass(frozen=True)
class StoreSection:
    url: str = field(metadata=_kind("store_url"))
    node: str = field(metadata=_kind("node"))
    retention: float = field(metadata=_kind("duration"))
    lease: float = field(metadata=_kind("positive_duration"))


@dataclass(frozen=True)
class WebhooksSection:
    timeout: float = field(metadata=_kind("duration"))
    connect_timeout: float = field(metadata=_kind("duration"))
    retry_schedule: tuple[float, ...] = field(metadata=_kind("schedule"))
    max_age: float = field(metadata=_kind("duration"))
    allow_private: bool = field(metadata=_kind("bool"))
    max_in_flight: int = field(metadata=_kind("int"))
    max_per_shop: int = field(metadata=_kind("int"))


SQLITE_URL = "sqlite:///"


@dataclass(frozen=True)
class Config:
    relay: RelaySection
    submission: SubmissionSection
    inbound: InboundSection
    http: HttpSection
    delivery: DeliverySection
    dns: DnsSection
    fallback: FallbackSection
    store: StoreSection
    webhooks: WebhooksSection
    path: Path  # the file these settings came from

    @property
    def data_dir(self) -> Path:
        return self.relay.data_dir

    @property
    def unauthenticated_limit(self) -> int:
        """submission.max_unauthenticated, with 0 meaning half of max_sessions."""
        sub = self.submission
        return sub.max_unauthenticated or max(1, sub.max_sessions // 2)

    @property
    def database_path(self) -> Path | None:
        """The SQLite file of `store.url` (relative to this file), or None for a server."""
        if not self.store.url.startswith(SQLITE_URL):
            return None
        return (self.path.parent / self.store.url[len(SQLITE_URL) :]).resolve()


SECTIONS: dict[str, type] = {
    "relay": RelaySection,
    "submission": SubmissionSection,
    "inbound": InboundSection,
    "http": HttpSection,
    "delivery": DeliverySection,
    "dns": DnsSection,
    "fallback": FallbackSection,
    "store": StoreSection,
    "webhooks": WebhooksSection,
}
