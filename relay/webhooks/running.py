"""The webhook parts of a running relay, made from relay.toml: what the API's webhook actions
need, and the outbox worker with its sender. relay/serve/service.py starts it in worker 0;
with several nodes on PostgreSQL, `run_outbox` is the job the node holding the periodic-work
lock runs (`singletons.add("webhooks", lambda: run_outbox(...))`)."""

from __future__ import annotations

import asyncio
import contextlib
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


async def run_outbox(config: Config, read: Read, write: Write, secret: bytes) -> None:
    """The outbox worker with its sender, until cancelled (then it gives its rows back)."""
    hooks = config.webhooks
    settings = OutboxSettings(
        schedule=hooks.retry_schedule, max_age=hooks.max_age, timeout=hooks.timeout
    )
    policy, resolver = policy_from_config(config), delivery_resolver(config)
    async with Sender(SenderSettings.from_config(config), policy, resolver) as sender:
        owner = outbox_owner(node_name(config.store.node))
        await OutboxWorker(read, write, sender, Vault(secret), settings, owner).run()


async def start_outbox(
    config: Config, read: Read, write: Write, secret: bytes
) -> Callable[[], Awaitable[None]]:
    """Run the outbox worker in a task of its own; returns what stops it."""
    task = asyncio.create_task(run_outbox(config, read, write, secret), name="webhook outbox")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
