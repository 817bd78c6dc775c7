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
from pathlib import Path

from config import Config
from dns_checks.typos import likely_typo
from relay import metrics
from relay.delivery.client import ClientSettings
from relay.delivery.relayhost import relayhost_from
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
from relay.smtp.admission import Admission, Gate, Limits, MemoryGate
from relay.smtp.auth import ShopAuthenticator
from relay.smtp.data import DataPolicy
from relay.smtp.protocol import RelaySMTP
from relay.smtp.submission import SubmissionHandler
from relay.store.db import Database, GroupWriter
from relay.store.hooks import add_observer
from relay.store.recipients import Lease, lease_owner, node_name
from relay.submit import SubmissionDeps, Submitter

log = logging.getLogger("relay")
# Spooled messages being prepared, signed and stored at once, per worker, by size (see
# MemoryGate): 64 MB lets two 25 MB messages through together; each needs about twice its size.
_MEMORY_BUDGET = 64 * 1000 * 1000


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def spool_directory(config: Config) -> Path:
    """Where DATA beyond the memory threshold goes while it arrives: private to the relay."""
    path = config.data_dir / "spool"
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    return path


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
        self.spool_dir = spool_directory(config)
        self.memory = MemoryGate(_MEMORY_BUDGET)
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
        sessions = self.role.share(config.submission.max_sessions)
        per_address = self.role.share(config.submission.max_unauthenticated_per_address)
        admission = Admission(Limits(sessions, sessions, per_address, auth_timeout=None))
        # Reports are stored as they come: bare line endings, NUL and long lines are taken
        # (losing a report is worse than a sloppy MTA's bytes; nothing is relayed from here).
        data = DataPolicy(config.inbound.max_message_size, None, False, self.spool_dir)
        tls, memory = self.tls, self.memory
        session = lambda: RelaySMTP(  # noqa: E731
            handler,
            admission=admission,
            data=data,
            memory=memory,
            offers_auth=False,
            content_as_bytes=True,
            tls_context=tls,
            hostname=config.relay.hostname,
            ident="relay",
            decode_data=False,
            data_size_limit=config.inbound.max_message_size,
            auth_required=False,
            auth_require_tls=True,
            auth_exclude_mechanism=("PLAIN", "LOGIN"),
            enable_SMTPUTF8=True,
        )
        for address in config.inbound.listen:
            await self._listen(lambda: Gate(admission, {}, session), address)
            log.debug("bounce listener listening on %s", address)
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
        from relay.webhooks.running import run_outbox  # the webhook outbox: one node at a time

        secret = self.settings.secret
        singletons.add("webhooks", lambda: run_outbox(self.config, self.reads, write, secret))
        singletons.start()
        self.background.append(singletons.stop)
        heart = asyncio.create_task(beat(write, self.node, singletons.held), name="heartbeat")
        self.background.append(heart.cancel)

    async def _start_http(self) -> None:
        assert self.writer is not None
        host, port = split_address(self.config.http.listen)
        from relay.http import start_http
        from relay.http.api.deps import api_deps  # the API and webhooks: worker 0 only
        from relay.http.console import console_deps
        from relay.http.metrics_page import MetricsSettings, parse_networks

        secret = self.settings.secret
        api = api_deps(self.config, self.reads, self.writer.run, self.submitter, secret)
        from relay.store.outbox import waiting_per_shop

        metrics.add_backlog_reader(waiting_per_shop)  # the webhook backlog per shop
        allow = parse_networks(self.config.http.metrics_allow)
        scrape = MetricsSettings(self.reads, self.node, metrics.relay_version(), allow)
        console = console_deps(
            self.config, self.reads, self.writer.run, secret, self.submitter, api.renderer.render
        )
        runner = await start_http(
            host, port, self.reads, self.writer.run, secret, api=api, metrics=scrape,
            console=console,
        )  # fmt: skip
        self.background.append(runner.cleanup)
        log.debug(
            "http (unsubscribe, API, console, /healthz, /metrics) listening on %s",
            self.config.http.listen,
        )

    async def _start_delivery(self) -> None:
        config = self.config
        assert self.writer is not None
        delivery = config.delivery
        relayhost = relayhost_from(  # issue 14: a smarthost, as Postfix's relayhost
            delivery.relayhost, delivery.relayhost_auth, delivery.relayhost_tls, config.path.parent
        )
        router = Router(delivery_resolver(config), delivery.allow_private_mx, relayhost)
        client = ClientSettings(
            helo_name=config.relay.hostname,
            port=delivery.smtp_port,
            connect_timeout=delivery.connect_timeout,
            command_timeout=delivery.command_timeout,
            data_timeout=delivery.data_timeout,
            require_tls=delivery.require_tls,
            relayhost=relayhost,
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
        scheduler = Scheduler(
            self.writer.run, self.reads, router, client, policy, lease, memory=self.memory
        )
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
        handler = SubmissionHandler(self.submitter, authenticator)
        tls, trusted = self.tls, parse_trusted(config.submission.trusted_clients)
        admission = Admission(self._submission_limits())
        common = {
            "hostname": config.relay.hostname,
            "ident": "relay",
            "decode_data": False,
            "data_size_limit": config.submission.max_message_size,
            "auth_required": True,
            "admission": admission,
            "data": DataPolicy(
                config.submission.max_message_size,
                RelaySMTP.line_length_limit - 1,  # aiosmtpd counts the transparency dot
                True,
                self.spool_dir,
                refuse_long_lines=False,  # re-encoded before signing (relay.prepare.wire)
            ),
            "memory": self.memory,
            "trusted": trusted,
            "enable_SMTPUTF8": True,
        }
        starttls = lambda: RelaySMTP(handler, tls_context=tls, auth_require_tls=True, **common)  # noqa: E731
        # Implicit TLS (RFC 8314 3.3): the whole session is encrypted, so AUTH is allowed.
        implicit = lambda: RelaySMTP(handler, auth_require_tls=False, **common)  # noqa: E731
        for address in config.submission.listen:
            await self._listen(lambda: Gate(admission, trusted, starttls), address)
            log.debug("submission (STARTTLS) listening on %s", address)
        for address in config.submission.listen_tls:
            await self._listen(lambda: Gate(admission, trusted, implicit), address, ssl=tls)
            log.debug("submission (implicit TLS) listening on %s", address)

    def _submission_limits(self) -> Limits:
        """This worker's share of the relay-wide session limits (SO_REUSEPORT spreads the
        connections, one client address's too, evenly enough over the workers)."""
        sub, share = self.config.submission, self.role.share
        sessions = share(sub.max_sessions)
        unauthenticated = max(1, min(share(self.config.unauthenticated_limit), sessions - 1))
        per_address = share(sub.max_unauthenticated_per_address)
        return Limits(sessions, unauthenticated, per_address, sub.auth_timeout)

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
