"""Run DKIM signing off the accepting event loop, in worker processes (uses both cores)."""

import asyncio
import concurrent.futures
import multiprocessing

from relay.prepare.pipeline import Prepared, sign_job


def _sign_all(jobs: list, body: bytes) -> list[bytes]:
    return [sign_job(job, body) for job in jobs]


class Signer:
    def __init__(self, workers: int) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if workers > 0:
            # spawn, not fork: the parent has threads (the database writer) by now.
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)

    async def sign(self, prepared: Prepared) -> list[bytes]:
        if not prepared.sign_jobs:
            return []
        if self._pool is None:
            return _sign_all(prepared.sign_jobs, prepared.body)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _sign_all, prepared.sign_jobs, prepared.body)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
