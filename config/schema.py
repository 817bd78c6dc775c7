"""The settings of relay.toml as frozen dataclasses.

Each field carries the kind of value it accepts (metadata "kind"), so one loader can check
every key and name it exactly in errors.
"""

from dataclasses import dataclass, field
from pathlib import Path


def _kind(kind: str) -> dict[str, str]:
    return {"kind": kind}


@dataclass(frozen=True)
class RelaySection:
    hostname: str = field(metadata=_kind("str"))
    data_dir: Path = field(metadata=_kind("path"))
    workers: int = field(metadata=_kind("int"))


@dataclass(frozen=True)
class SubmissionSection:
    listen: tuple[str, ...] = field(metadata=_kind("addresses"))
    listen_tls: tuple[str, ...] = field(metadata=_kind("addresses"))
    max_message_size: int = field(metadata=_kind("size"))
    max_sessions: int = field(metadata=_kind("int"))
    tls_cert: str = field(metadata=_kind("str"))
    tls_key: str = field(metadata=_kind("str"))
    auth_failure_delay: float = field(metadata=_kind("duration"))
    trusted_clients: tuple[str, ...] = field(metadata=_kind("list"))
    signing_workers: int = field(metadata=_kind("int"))


@dataclass(frozen=True)
class InboundSection:
    listen: tuple[str, ...] = field(metadata=_kind("addresses"))
    bounce_domain: str = field(metadata=_kind("str"))
    complaint_address: str = field(metadata=_kind("str"))
    max_message_size: int = field(metadata=_kind("size"))


@dataclass(frozen=True)
class HttpSection:
    listen: str = field(metadata=_kind("address"))
    public_url: str = field(metadata=_kind("str"))
    metrics_allow: tuple[str, ...] = field(metadata=_kind("networks"))


@dataclass(frozen=True)
class DeliverySection:
    smtp_port: int = field(metadata=_kind("int"))
    nameservers: tuple[str, ...] = field(metadata=_kind("list"))
    sending_ips: tuple[str, ...] = field(metadata=_kind("list"))
    retry_schedule: tuple[float, ...] = field(metadata=_kind("schedule"))
    max_age: float = field(metadata=_kind("duration"))
    allow_private_mx: bool = field(metadata=_kind("bool"))
    max_connections: int = field(metadata=_kind("int"))
    max_per_destination: int = field(metadata=_kind("int"))
    connect_timeout: float = field(metadata=_kind("duration"))
    command_timeout: float = field(metadata=_kind("duration"))
    data_timeout: float = field(metadata=_kind("duration"))
    require_tls: bool = field(metadata=_kind("bool"))


@dataclass(frozen=True)
class DnsSection:
    spf_include: str = field(metadata=_kind("str"))
    recheck_every: float = field(metadata=_kind("duration"))


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
