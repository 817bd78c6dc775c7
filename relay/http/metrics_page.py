"""`GET /metrics`: the Prometheus text format (relay.metrics), for the node that answers.

The series name every shop and count its mail, so they are not public: loopback clients only,
plus the networks listed in `[http] metrics_allow` (a Prometheus server elsewhere). The
client's address is the TCP peer's: a reverse proxy in front makes every request come from the
proxy, so allow the proxy only if it restricts /metrics itself. Others get 403 (RFC 9457
problem+json) and no series.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from relay.metrics import exposition
from relay.store.db import Read

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MetricsSettings:
    read: Read
    node: str
    version: str
    allow: Sequence[Network] = ()

    def allows(self, remote: str | None) -> bool:
        try:
            address = ipaddress.ip_address((remote or "").split("%", 1)[0])
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:  # type: ignore[union-attr]
            address = address.ipv4_mapped  # type: ignore[union-attr]
        return address.is_loopback or any(address in network for network in self.allow)


METRICS = web.AppKey("metrics", MetricsSettings)


def parse_networks(texts: Sequence[str]) -> tuple[Network, ...]:
    """`[http] metrics_allow` (checked by the config loader) as networks."""
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def add_metrics_route(app: web.Application, settings: MetricsSettings) -> None:
    app[METRICS] = settings
    app.router.add_get("/metrics", metrics)


async def metrics(request: web.Request) -> web.Response:
    settings = request.app[METRICS]
    if not settings.allows(request.remote):
        return web.json_response(
            {
                "type": "about:blank",
                "title": "Forbidden",
                "status": 403,
                "detail": "/metrics answers loopback clients and [http] metrics_allow only",
            },
            status=403,
            content_type="application/problem+json",
        )
    # The collector reads the database: in a thread, so a slow scrape never stalls the
    # listener's other requests.
    body, content_type = await asyncio.to_thread(
        exposition, settings.read, settings.node, settings.version
    )
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response
