"""`relay db migrate` and `relay db copy` (issue 10): an embedded relay with history moves into
PostgreSQL, and `relay serve` on PostgreSQL delivers what was queued, shows the old history,
and still knows the old bounce addresses (ids kept); new ids come after the copied ones.
A copy is refused while `relay serve` runs, and into a database that holds data unless
--force. Real parts: the relay, Postfix (the customers' MX, its DSNs), PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bounces.verp import bounce_address
from relay.keys import load_secret
from relay.store.schema import MIGRATIONS
from tests.harness import RELAY, RelayProcess, submit
from tests.rig import names
from tests.rig.postfix import PostfixRig
from tests.rig.postgres import PostgresServer
from tests.test_bounce_import import _on_terminal
from tests.test_store_schema import version_3

SAMPLE_DSN = Path(__file__).parent / "data" / "bounces" / "relay-token-dsn.eml"


def copy(relay: RelayProcess, url: str, *extra: str, check: bool = True):  # type: ignore[no-untyped-def]
    return relay.run("db", "copy", "--to", url, *extra, check=check)


def dsn_to(relay: RelayProcess, recipient_id: int, address: str) -> tuple[Path, str]:
    """A Postfix DSN (550 5.1.1) for one of our recipients, sent to its bounce address."""
    secret = load_secret(relay.root / "var")
    to = bounce_address(secret, recipient_id, names.BOUNCE_DOMAIN)
    raw = SAMPLE_DSN.read_bytes().replace(
        b"b-Zm9vYmFyLXRva2VuXzEyMw@" + names.BOUNCE_DOMAIN.encode(), to.encode()
    )
    path = relay.root / f"dsn-{recipient_id}.eml"
    path.write_bytes(raw.replace(b"max@example.org", address.encode()))
    return path, to


def test_a_relay_with_history_moves_to_postgresql_and_goes_on_there(
    relay_factory, postfix: PostfixRig, postgres_server: PostgresServer
) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory().start()
    delivered = submit(relay, names.CUSTOMER, "X-Relay-Order: C-1")
    relay.wait_state(names.CUSTOMER, {"delivered"})
    bounced = submit(relay, names.MAILBOX_FULL, "X-Relay-Order: C-2")
    relay.wait_state(names.MAILBOX_FULL, {"bounced"})
    postfix.set_defer(names.BUSY, on=True)
    queued = submit(relay, names.BUSY, "X-Relay-Order: C-3")
    relay.wait_state(names.BUSY, {"deferred"})
    target = postgres_server.create_database()

    refused = copy(relay, target, check=False)  # relay serve still runs
    assert refused.returncode == 1
    assert "is using" in refused.stderr and "stop it first" in refused.stderr
    relay.stop()
    before = relay.query("SELECT id, address, state FROM recipients ORDER BY id")

    done = json.loads(copy(relay, target, "--json").stdout)
    assert done["ok"] and done["target"].startswith("postgresql://relay@127.0.0.1")
    tables = {t["table"]: t for t in done["tables"]}
    assert tables["recipients"]["copied"] == len(before) == 3
    assert tables["attempts"]["copied"] >= 3 and tables["events"]["sampled"] > 0
    assert tables["reports"]["copied"] == 1  # Postfix's DSN for the full mailbox

    again = copy(relay, target, check=False)  # the target holds data now
    assert again.returncode == 1 and "not empty" in again.stderr and "--force" in again.stderr

    relay.store_url = target
    relay.config.write_text(relay._toml())
    postfix.set_defer(names.BUSY, on=False)
    relay.start()
    relay.wait_state(names.BUSY, {"delivered"})  # what was queued goes out from PostgreSQL
    after = relay.query("SELECT id, address FROM recipients ORDER BY id")
    assert after[:3] == [{"id": r["id"], "address": r["address"]} for r in before]
    history = {r["message"]: r for r in relay.recipients()}
    assert history[delivered]["status"] == "delivered"  # the old history, on PostgreSQL
    assert history[bounced]["status"] == "bounced"
    shown = relay.json("message", "show", queued)
    codes = [a["code"] for r in shown["recipients"] for a in r["attempts_log"]]
    assert codes[0] == 450 and codes[-1] == 250  # the deferral from SQLite days, then the 250

    # New ids come after the copied ones; old bounce addresses still find their row.
    fresh = submit(relay, "new@" + names.CUSTOMER_DOMAIN, "X-Relay-Order: C-4")
    new_id = relay.query("SELECT id FROM recipients WHERE message = ?", fresh)[0]["id"]
    assert new_id > max(r["id"] for r in before)
    old_id = next(r["id"] for r in before if r["address"] == names.CUSTOMER)
    dsn, to = dsn_to(relay, old_id, names.CUSTOMER)
    relay.run("bounces", "import", str(dsn), "--to", to)
    late = relay.query("SELECT state, reason FROM recipients WHERE id = ?", old_id)
    assert late == [{"state": "bounced", "reason": "userunknown"}]


def test_force_empties_the_target_first_and_ids_stay(
    relay_factory, postgres_server: PostgresServer
) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"relay": {"workers": 1}})
    relay.add_shop("second", "second.example.com")
    target = postgres_server.create_database()
    copy(relay, target)
    relay.add_shop("third", "third.example.com")
    done = json.loads(copy(relay, target, "--force", "--json").stdout)
    assert done["ok"]
    shops = {t["table"]: t for t in done["tables"]}["shops"]
    assert (shops["source"], shops["target"]) == (3, 3)  # replaced, not added to
    # On a terminal: a progress bar, then the summary.
    command = [*RELAY, "--config", str(relay.config), "db", "copy", "--to", target, "--force"]
    shown = _on_terminal(command)
    assert "copying" in shown and "every table matches" in shown


def test_migrate_prints_the_version_before_and_after(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    version_3(tmp_path / "relay.db")
    (tmp_path / "relay.toml").write_text('[store]\nurl = "sqlite:///relay.db"\n')
    relay = RelayProcess(tmp_path, "127.0.0.1:53", 25)
    out = relay.run("db", "migrate").stdout
    assert f"schema version 3 -> {len(MIGRATIONS)}" in out
    assert json.loads(relay.run("db", "migrate", "--json").stdout)["before"] == len(MIGRATIONS)
    conn = sqlite3.connect(tmp_path / "relay.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
    url = postgres_server.create_database()
    (tmp_path / "relay.toml").write_text(f'[store]\nurl = "{url}"\n')
    data = json.loads(relay.run("db", "migrate", "--json").stdout)
    assert (data["before"], data["after"]) == (0, len(MIGRATIONS))
