"""DKIM signing for the submission path: in the event loop up to 256 KB (about 1 ms), in a
thread above that, or in `submission.signing_workers` extra processes when set."""

import asyncio
import concurrent.futures
import multiprocessing

from relay.prepare.pipeline import Prepared, sign_job
from relay.procs import die_with_parent

_INLINE_LIMIT = 256 * 1024  # sign in the event loop up to this size (~1 ms of work)


def _sign_all(jobs: list, body: bytes) -> list[bytes]:
    return [sign_job(job, body) for job in jobs]


class Signer:
    def __init__(self, workers: int) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if workers > 0:
            # spawn, not fork: the parent has threads (the database writer) by now.
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=context, initializer=die_with_parent
            )

    async def sign(self, prepared: Prepared) -> list[bytes]:
        if not prepared.sign_jobs:
            return []
        if self._pool is None:
            if len(prepared.body) <= _INLINE_LIMIT:
                return _sign_all(prepared.sign_jobs, prepared.body)
            # Hashing and canonicalising megabytes takes hundreds of milliseconds: in a thread
            # the event loop keeps serving the other sessions meanwhile (hashlib drops the GIL
            # for large inputs, and Python switches threads every few milliseconds otherwise).
            return await asyncio.to_thread(_sign_all, prepared.sign_jobs, prepared.body)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _sign_all, prepared.sign_jobs, prepared.body)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
