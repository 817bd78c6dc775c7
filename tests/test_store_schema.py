"""Schema history: a database at version 3 (before leases) migrates forward with its data and
ids; the CHECK on recipients.state is the model's states; one list of migrations renders for
PostgreSQL too; shops_version moves without triggers, through the store's own functions."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest

from relay.model import State, sources
from relay.store.db import open_database
from relay.store.dialect import POSTGRESQL_TYPES, Dialect
from relay.store.errors import StoreError
from relay.store.recipients import Lease, claim_due
from relay.store.schema import MIGRATIONS, render
from relay.store.shops import insert_shop, save_verdict, set_kinds, shops_version
from relay.store.sqlite import SQLITE
from tests.store_fixtures import make_shop

NOW = time.time()


def version_3(path: Path) -> None:
    """A database as the relay before leases left it, with a little history."""
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        conn.executescript(render(migration, SQLITE))
    conn.execute("PRAGMA user_version=3")
    conn.executescript(
        """
        INSERT INTO shops (name, domains, sender, sender_name, language, password_hash,
            dkim_selector, dkim_private_key, created_at)
            VALUES ('s', '["shop.example.com"]', 'i@shop.example.com', 'S', 'de', 'h', 'sel',
            'pem', 1);
        INSERT INTO messages (id, shop, kind, header_from, message_id, identity, dkim_domain,
            mail_from, size, body, body_sha256, created_at)
            VALUES ('M1', 's', 'dunning', 'i@shop.example.com', '<m1@x>', 'fallback',
            'relay.example.net', 'i@shop.example.com', 4, x'68690d0a', 'h', 1);
        INSERT INTO recipients (id, message, address, domain, state, attempts, next_attempt_at,
            claimed_by, last_code, created_at, updated_at) VALUES
            (7, 'M1', 'a@example.org', 'example.org', 'delivered', 1, NULL, NULL, 250, 1, 2),
            (9, 'M1', 'b@example.org', 'example.org', 'inflight', 0, 1, 'host:123:1', NULL, 1, 2),
            (12, 'M1', 'c@example.org', 'example.org', 'deferred', 2, 5, NULL, 451, 1, 2);
        INSERT INTO attempts (recipient, at, mx_host, code) VALUES (7, 2, 'mx.example.org', 250);
        INSERT INTO events (at, kind, message, recipient) VALUES (2, 'delivered', 'M1', 7);
        INSERT INTO reports (id, received_at, raw, kind, status, recipient)
            VALUES (3, 2, x'6869', 'bounce', 'matched', 7);
        INSERT INTO auth_failures (ip, count, last) VALUES ('127.0.0.9', 2, 1);
        """
    )
    conn.commit()
    conn.close()


def test_a_version_3_database_migrates_with_its_data(tmp_path: Path) -> None:
    version_3(tmp_path / "relay.db")
    db = open_database("sqlite:///relay.db", tmp_path)
    conn = sqlite3.connect(tmp_path / "relay.db")
    conn.row_factory = sqlite3.Row
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 11
    # Mail queued before the return-path migration keeps going out from the relay's bounce domain.
    assert [tuple(r) for r in conn.execute("SELECT return_path FROM messages")] == [(None,)]
    rows = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM recipients")}
    assert sorted(rows) == [7, 9, 12]  # ids kept: attempts and events still point at them
    assert rows[7]["state"] == "delivered" and rows[7]["last_code"] == 250
    assert rows[12]["attempts"] == 2 and rows[12]["next_attempt_at"] == 5
    # The pid claim became an expired lease: nobody waits for a process that is gone.
    assert rows[9]["state"] == "inflight" and rows[9]["lease_expires"] == 0
    assert rows[9]["lease_owner"] == "host:123:1"
    assert "claimed_by" not in rows[9]
    attempt = conn.execute("SELECT recipient, mx_host FROM attempts").fetchone()
    assert tuple(attempt) == (7, "mx.example.org")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall() == []
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"recipients_due", "recipients_message", "recipients_address_lower"} <= indexes
    # Version 7: reports keep their rows (fingerprint unknown); AUTH failures are counted per
    # address and shop name from now on (the old per-address counts go: 15 minutes at most).
    report = dict(conn.execute("SELECT * FROM reports").fetchone())
    assert (report["id"], report["recipient"], report["fingerprint"]) == (3, 7, None)
    assert conn.execute("SELECT count(*) FROM auth_failures").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM auth_attempts").fetchone()[0] == 0
    conn.close()
    with db.transaction() as tx:  # the old claim is taken over by the next claimer
        claimed = claim_due(tx, Lease("n", "n/w0.1", 300, 300), 10)
    assert sorted(r["id"] for r in claimed) == [9, 12]
    db.close()


def test_the_state_column_takes_only_the_model_states(tmp_path: Path) -> None:
    db = open_database("sqlite:///relay.db", tmp_path, create=True)
    conn = sqlite3.connect(tmp_path / "relay.db")
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'recipients'").fetchone()[0]
    conn.close()
    check = ddl.split("CHECK (")[1].split(")")[0]
    assert set(re.findall(r"state = '([a-z]+)'", check)) == {str(s) for s in State}
    conn = sqlite3.connect(tmp_path / "relay.db")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(
            "INSERT INTO recipients (message, address, domain, state, created_at, updated_at)"
            " VALUES ('M', 'a@example.org', 'example.org', 'sent', 0, 0)"
        )
    conn.close()
    db.close()


def test_a_newer_database_is_refused_with_advice(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "relay.db")
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(Exception, match="newer than this relay knows"):
        open_database("sqlite:///relay.db", tmp_path)


def test_every_migration_renders_for_postgresql() -> None:
    postgresql = Dialect("postgresql", POSTGRESQL_TYPES, "FOR UPDATE SKIP LOCKED", True,
                         Exception, lambda e: StoreError(str(e)))  # fmt: skip
    texts = [render(m, postgresql) for m in MIGRATIONS]
    joined = "\n".join(texts)
    assert "$" not in joined.replace("scrypt$n$r$p$salt$hash", "")  # every word substituted
    for sqlite_only in ("TRIGGER", "INTEGER PRIMARY KEY", " BLOB", " REAL", "x''", "PRAGMA"):
        assert sqlite_only not in joined, sqlite_only
    assert "CHECK (state IN (" in texts[3] and "DROP COLUMN claimed_by" in texts[3]


def test_shops_version_moves_with_every_change_to_shops_and_verdicts(tmp_path: Path) -> None:
    db = open_database("sqlite:///relay.db", tmp_path, create=True)
    seen = [shops_version(db.read())]
    with db.transaction() as tx:
        insert_shop(tx, make_shop("s"))
    seen.append(shops_version(db.read()))
    with db.transaction() as tx:
        set_kinds(tx, "s", frozenset({"refund"}), {})
    seen.append(shops_version(db.read()))
    with db.transaction() as tx:
        save_verdict(tx, "s", "s.example", True, {"x": 1}, False, NOW)
    seen.append(shops_version(db.read()))
    assert seen == sorted(set(seen)), seen  # four different, growing numbers
    conn = sqlite3.connect(tmp_path / "relay.db")
    identity = conn.execute("SELECT detail FROM events WHERE kind = 'identity'").fetchall()
    conn.close()
    assert [json.loads(d) for (d,) in identity] == [
        {"domain": "s.example", "verified": True, "was": False}
    ]
    db.close()


def test_bounced_is_reachable_from_every_state_a_message_can_leave_in() -> None:
    assert set(sources(State.BOUNCED)) == {
        State.QUEUED,
        State.DEFERRED,
        State.INFLIGHT,
        State.DELIVERED,
        State.QUARANTINED,
    }
