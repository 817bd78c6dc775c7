"""bench/webhooks --mode api: `POST /api/v1/messages` at a fixed rate from a pool of clients
(open loop: a request is due at its time whether or not the one before has answered, so a
slow answer shows in the latency instead of lowering the load)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass

import aiohttp

from relay.render import sample_data

RECIPIENT = "customer@shop-customers.example.com"


@dataclass(frozen=True)
class LoadResult:
    sent: int
    accepted: int  # 202
    statuses: dict[int, int]
    wall: float
    latencies: list[float]  # seconds from each request's due time to its answer

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, int(len(ordered) * share) - 1)] if ordered else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


def body(kind: str, raw: bool, i: int) -> bytes:
    if raw:
        text = (
            "From: Bench Shop <info@shop.example.com>\nTo: " + RECIPIENT + "\n"
            f"Subject: Zahlungserinnerung {i}\nX-Relay-Kind: {kind}\nX-Relay-Order: B-{i}\n\n"
            "Guten Tag,\nbitte zahlen Sie den offenen Betrag.\n"
        )
        return json.dumps({"raw": text, "to": [RECIPIENT]}).encode()
    data = sample_data(kind, "de")
    return json.dumps(
        {"template": kind, "to": [RECIPIENT], "order": f"B-{i}", "language": "de", "data": data}
    ).encode()


async def load(
    url: str, token: str, rate: float, seconds: float, clients: int, kind: str, raw: bool
) -> LoadResult:
    total = int(rate * seconds)
    bodies = [body(kind, raw, i) for i in range(total)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)  # the pool: at most `clients` at once
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        started = time.perf_counter()

        async def one(i: int) -> None:
            due = started + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with session.post(url, data=bodies[i]) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
            latencies.append(time.perf_counter() - due)

        await asyncio.gather(*(one(i) for i in range(total)))
        wall = time.perf_counter() - started
    return LoadResult(total, statuses.get(202, 0), statuses, wall, latencies)
