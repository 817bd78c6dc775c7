"""DKIM signing for the submission path.

The body hash (relaxed canonicalisation and SHA-256 over the whole body) is computed once per
message, in the event loop up to 256 KB (well under a millisecond) and in a thread above that
(hashlib releases the GIL on large inputs). The RSA signatures, one per sign job, run in the
event loop for a few jobs, or in `submission.signing_workers` extra processes when set: only the
small header block and the body hash cross to them, never the body.
"""

import asyncio
import concurrent.futures
import multiprocessing

from relay.prepare.pipeline import Prepared, SignJob, header_and_body, sign_headers
from relay.procs import die_with_parent

_INLINE_LIMIT = 256 * 1024  # hash the body in the event loop up to this size
_INLINE_JOBS = 4  # RSA signatures made in the event loop (~1 ms each); more go to a thread


def _body_hash(body: memoryview) -> bytes:
    from relay import dkim_sign

    return dkim_sign.body_hash(body)


def _sign_all(jobs: list[SignJob], head: bytes, body: memoryview) -> list[bytes]:
    return sign_headers(jobs, head, _body_hash(body))


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
        jobs = prepared.sign_jobs
        if not jobs:
            return []
        head, body = header_and_body(prepared)
        small = len(body) <= _INLINE_LIMIT
        if self._pool is None:
            if small and len(jobs) <= _INLINE_JOBS:
                return _sign_all(jobs, head, body)
            return await asyncio.to_thread(_sign_all, jobs, head, body)
        body_hash = _body_hash(body) if small else await asyncio.to_thread(_body_hash, body)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, sign_headers, jobs, head, body_hash)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
