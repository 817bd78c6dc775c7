"""The webhook parts of a running relay, made from relay.toml: what the API's webhook actions
need, and the outbox worker with its sender (relay/serve/service.py starts it in worker 0)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from config import Config
from relay.actions.webhooks import WebhookDeps
from relay.dns import delivery_resolver
from relay.store.db import Read, Write
from relay.store.recipients import node_name
from relay.webhooks.guard import policy_from_config
from relay.webhooks.outbox import OutboxSettings, OutboxWorker, outbox_owner
from relay.webhooks.sender import Sender, SenderSettings
from relay.webhooks.vault import Vault


def webhook_deps(config: Config, read: Read, write: Write, secret: bytes) -> WebhookDeps:
    return WebhookDeps(
        read=read,
        write=write,
        vault=Vault(secret),
        policy=policy_from_config(config),
        resolver=delivery_resolver(config),
    )


async def start_outbox(
    config: Config, read: Read, write: Write, secret: bytes
) -> Callable[[], Awaitable[None]]:
    """Start the outbox worker; returns what stops it (and closes its HTTP session)."""
    settings = SenderSettings.from_config(config)
    sender = Sender(settings, policy_from_config(config), delivery_resolver(config))
    await sender.__aenter__()
    hooks = config.webhooks
    worker = OutboxWorker(
        read,
        write,
        sender,
        Vault(secret),
        OutboxSettings(schedule=hooks.retry_schedule, max_age=hooks.max_age, timeout=hooks.timeout),
        outbox_owner(node_name(config.store.node)),
    )
    await worker.start()

    async def stop() -> None:
        await worker.stop()
        await sender.__aexit__(None, None, None)

    return stop
