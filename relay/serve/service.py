"""One worker of `relay serve`: every listener, delivery and periodic work in one event loop.

SIGTERM or SIGINT: stop accepting, let work in flight finish its transaction, close the store.
With several workers, limits are split between them. Worker 0 serves HTTP (with /metrics),
writes the node's heartbeat, and runs the periodic jobs (DNS re-checks, report recovery,
retention) that must run once: on SQLite always, on PostgreSQL while it holds each job's
advisory lock, so one node of several runs each (relay.serve.singleton).
"""

import asyncio
import logging
import os
import ssl
from collections.abc import Callable

from config import Config
from dns_checks.typos import likely_typo
from relay import metrics
from relay.delivery.client import ClientSettings
from relay.delivery.routing import Router
from relay.delivery.scheduler import Policy, Scheduler
from relay.dns import delivery_resolver
from relay.errors import SetupError
from relay.inbound.listener import InboundDeps, InboundHandler
from relay.runtime import open_store, settings_from, tls_paths
from relay.serve.node import beat
from relay.serve.periodic import enforce_retention, recover_reports
from relay.serve.role import WorkerRole
from relay.serve.singleton import Singletons
from relay.signing import Signer
from relay.smtp.auth import ShopAuthenticator
from relay.smtp.protocol import RelaySMTP, SessionLimiter
from relay.smtp.submission import SubmissionHandler
from relay.store.db import Database, GroupWriter
from relay.store.hooks import add_observer
from relay.store.recipients import Lease, lease_owner, node_name
from relay.submit import SubmissionDeps, Submitter

log = logging.getLogger("relay")


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def parse_trusted(entries: tuple[str, ...]) -> dict[str, str]:
    pairs = (entry.split("=", 1) for entry in entries if "=" in entry)
    return {ip.strip(): shop.strip() for ip, shop in pairs}


def server_tls_context(config: Config) -> ssl.SSLContext:
    cert, key = tls_paths(config)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:  # SSLError is an OSError: say which files
        raise SetupError(
            f"cannot load the TLS certificate {cert} with key {key}: {exc}; check"
            " submission.tls_cert and submission.tls_key in relay.toml (empty: the dev"
            " certificate that `relay init` writes)"
        ) from None
    return context


class Service:
    """The running relay: built by `start()`, torn down by `stop()`."""

    def __init__(self, config: Config, role: WorkerRole) -> None:
        self.config = config
        self.role = role
        self.servers: list[asyncio.base_events.Server] = []
        self.db: Database | None = None
        self.writer: GroupWriter | None = None
        self.signer: Signer | None = None
        self.background: list[Callable[[], object]] = []
        self.node = node_name(config.store.node)

    async def start(self) -> None:
        config = self.config
        self.tls = server_tls_context(config)  # a bad certificate stops us before anything runs
        self.db = open_store(config, name=f"relay/{self.node}/w{self.role.index}")
        self.writer = self.db.writer()
        self.writer.start()
        self.reads = self.db.read
        add_observer(metrics.observe)  # counts what the store committed (relay.metrics)
        self.signer = Signer(config.submission.signing_workers)
        self.settings = settings_from(config)
        self.singletons = Singletons(self.db, first_worker=self.role.first)
        await self._start_delivery()
        self._make_submitter()
        if self.role.first:
            # The unsubscribe pages see a few requests a day: one worker is plenty, and the
            # others need not carry aiohttp in memory.
            await self._start_http()
        await self._start_inbound()
        await self._start_submission()
        if self.role.first:
            self._start_periodic()

    async def _listen(self, factory: Callable[[], object], address: str, **options: object) -> None:
        host, port = split_address(address)
        loop = asyncio.get_running_loop()
        reuse = self.role.count > 1  # SO_REUSEPORT: the kernel spreads connections over workers
        server = await loop.create_server(factory, host, port, reuse_port=reuse, **options)  # type: ignore[arg-type]
        self.servers.append(server)

    async def _start_inbound(self) -> None:
        config = self.config
        assert self.writer is not None
        handler = InboundHandler(
            InboundDeps(
                read=self.reads,
                write=self.writer.run,
                secret=self.settings.secret,
                bounce_domain=config.inbound.bounce_domain,
                complaint_address=config.inbound.complaint_address,
            )
        )
        limiter = SessionLimiter(self.role.share(config.submission.max_sessions))
        tls = self.tls
        for address in config.inbound.listen:
            factory = lambda: RelaySMTP(  # noqa: E731
                handler,
                limiter=limiter,
                refuse_bare_line_endings=False,
                tls_context=tls,
                hostname=config.relay.hostname,
                ident="relay",
                decode_data=False,
                data_size_limit=config.inbound.max_message_size,
                auth_required=False,
                auth_require_tls=True,
                enable_SMTPUTF8=True,
            )
            await self._listen(factory, address)
            log.info("bounce listener listening on %s", address)
        self.inbound = handler
        self.background.append(handler.drain)

    def _start_periodic(self) -> None:
        """Worker 0: the heartbeat, and the jobs one node at a time runs (relay.serve.singleton;
        other helpers add theirs with `self.singletons.add(name, job)` before this runs)."""
        assert self.writer is not None
        from relay.recheck import Rechecker  # worker 0 only: pyspf and the checks

        write, singletons = self.writer.run, self.singletons
        rechecker = Rechecker(self.config, self.reads, write)
        singletons.add("dns-recheck", rechecker.run)
        singletons.add("reports", lambda: recover_reports(self.reads, self.inbound.process))
        if self.config.store.retention > 0:
            retention = self.config.store.retention
            singletons.add("retention", lambda: enforce_retention(write, retention))
        singletons.start()
        self.background.append(singletons.stop)
        heart = asyncio.create_task(beat(write, self.node, singletons.held), name="heartbeat")
        self.background.append(heart.cancel)

    async def _start_http(self) -> None:
        assert self.writer is not None
        host, port = split_address(self.config.http.listen)
        from relay.http import start_http
        from relay.http.metrics_page import MetricsSettings, parse_networks

        allow = parse_networks(self.config.http.metrics_allow)
        scrape = MetricsSettings(self.reads, self.node, metrics.relay_version(), allow)
        runner = await start_http(
            host, port, self.reads, self.writer.run, self.settings.secret, metrics=scrape
        )
        self.background.append(runner.cleanup)
        log.info("http (unsubscribe, /healthz, /metrics) listening on %s", self.config.http.listen)

    async def _start_delivery(self) -> None:
        config = self.config
        assert self.writer is not None
        delivery = config.delivery
        router = Router(delivery_resolver(config), delivery.allow_private_mx)
        client = ClientSettings(
            helo_name=config.relay.hostname,
            port=delivery.smtp_port,
            connect_timeout=delivery.connect_timeout,
            command_timeout=delivery.command_timeout,
            data_timeout=delivery.data_timeout,
            require_tls=delivery.require_tls,
        )
        policy = Policy(
            schedule=delivery.retry_schedule,
            max_age=delivery.max_age,
            max_connections=self.role.share(delivery.max_connections),
            max_per_destination=self.role.share(delivery.max_per_destination),
            bounce_domain=config.inbound.bounce_domain,
            secret=self.settings.secret,
        )
        lease = Lease(
            node=self.node,
            owner=lease_owner(self.node, self.role.index, os.getpid()),
            duration=config.store.lease,
            # A crash retries a claimed row after the first retry interval, not at once.
            retry=delivery.retry_schedule[0] if delivery.retry_schedule else 300.0,
        )
        scheduler = Scheduler(self.writer.run, self.reads, router, client, policy, lease)
        # The node's dead leases were given back before any worker started (relay.serve.node).
        await scheduler.start(release_node=False)
        self.wake_delivery = scheduler.wake  # type: ignore[method-assign]
        self.background.append(scheduler.stop)

    def _make_submitter(self) -> None:
        """The one submission path (relay/submit.py), shared by SMTP and the HTTP API."""
        assert self.writer is not None and self.signer is not None
        likely_typo("example.com")  # loads its tables (~60 ms) now, not in a customer's DATA
        self.submitter = Submitter(
            SubmissionDeps(
                read=self.reads,
                write=self.writer.run,
                signer=self.signer,
                settings=self.settings,
                typo=likely_typo,
                on_queued=self.wake_delivery,
            )
        )

    async def _start_submission(self) -> None:
        config = self.config
        assert self.writer is not None
        authenticator = ShopAuthenticator(
            self.reads, self.writer.run, config.submission.auth_failure_delay
        )
        trusted = parse_trusted(config.submission.trusted_clients)
        handler = SubmissionHandler(self.submitter, authenticator, trusted)
        limiter = SessionLimiter(self.role.share(config.submission.max_sessions))
        tls = self.tls
        common = {
            "hostname": config.relay.hostname,
            "ident": "relay",
            "decode_data": False,
            "data_size_limit": config.submission.max_message_size,
            "auth_required": True,
            "authenticator": authenticator,
            "limiter": limiter,
            "enable_SMTPUTF8": True,
        }
        for address in config.submission.listen:
            factory = lambda: RelaySMTP(handler, tls_context=tls, auth_require_tls=True, **common)  # noqa: E731
            await self._listen(factory, address)
            log.info("submission (STARTTLS) listening on %s", address)
        for address in config.submission.listen_tls:
            # Implicit TLS (RFC 8314 3.3): the whole session is encrypted, so AUTH is allowed.
            factory = lambda: RelaySMTP(handler, auth_require_tls=False, **common)  # noqa: E731
            await self._listen(factory, address, ssl=tls)
            log.info("submission (implicit TLS) listening on %s", address)

    def wake_delivery(self) -> None:
        """Replaced by the delivery scheduler's wake-up once it runs."""

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        for stop in reversed(self.background):
            result = stop()
            if asyncio.iscoroutine(result):
                await result
        if self.signer is not None:
            self.signer.close()
        if self.writer is not None:
            self.writer.stop()
        if self.db is not None:
            self.db.close()
