"""The group-commit writer answers every caller: a job that fails gets its own error, the
others in the same batch still commit, and a writer that has stopped refuses at once instead
of leaving a submission waiting for a reply that never comes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from relay.store.connection import connect
from relay.store.writer import Writer


def _table(db: Path) -> None:
    conn = connect(db)
    conn.execute("CREATE TABLE t (x INTEGER NOT NULL)")
    conn.close()


def test_a_failing_job_fails_alone_and_a_stopped_writer_refuses(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    _table(db)

    async def main() -> None:
        writer = Writer(db)
        writer.start()
        ok = writer.run(lambda c: c.execute("INSERT INTO t VALUES (1)").rowcount)
        bad = writer.run(lambda c: c.execute("INSERT INTO t VALUES (NULL)"))
        results = await asyncio.gather(ok, bad, return_exceptions=True)
        assert results[0] == 1
        assert isinstance(results[1], sqlite3.IntegrityError)
        writer.stop()
        with pytest.raises(RuntimeError, match="writer has stopped"):
            await asyncio.wait_for(writer.run(lambda c: None), 5)

    asyncio.run(main())
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    conn.close()
