"""`relay db migrate`, `relay db copy --to URL`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import click

from relay.cli.common import State, emit, json_option, pass_state, table
from relay.cli.progress import progress
from relay.errors import SetupError
from relay.store.copy import CopyRefused, TableResult, copy_database
from relay.store.db import Database, open_database
from relay.store.errors import StoreError
from relay.store.locks import NodeLock
from relay.store.nodes import list_nodes


@click.group()
def db() -> None:
    """The database: its schema version, and moving it to PostgreSQL."""


@db.command()
@json_option
@pass_state
def migrate(state: State, as_json: bool) -> None:
    """Bring the database of store.url to this relay's schema (SQLite or PostgreSQL); prints
    the version before and after. `relay serve` does the same when it starts."""
    config = state.config
    try:
        database = open_database(config.store.url, config.path.parent, migrate=False)
        before = database.version()
        after = database.migrate()
    except (SetupError, StoreError) as exc:
        raise click.ClickException(f"cannot migrate: {exc}") from None
    data = {"database": database.display_url, "before": before, "after": after}
    database.close()
    emit(data, as_json, _render_migrate)


def _render_migrate(data: dict) -> None:
    if data["before"] == data["after"]:
        click.echo(f"{data['database']}: schema version {data['after']}, up to date")
    else:
        click.echo(f"{data['database']}: schema version {data['before']} -> {data['after']}")


@db.command()
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="The empty database to copy into, e.g. postgresql://relay@db.example.net/relay.",
)
@click.option("--force", is_flag=True, help="Delete what the target holds first.")
@click.option(
    "--sample",
    default=50,
    show_default=True,
    metavar="N",
    help="Rows per table compared field by field after the copy.",
)
@json_option
@pass_state
def copy(state: State, target_url: str, force: bool, sample: int, as_json: bool) -> None:
    """Copy every table of this relay's database (store.url) into another, ids kept, then
    check it: rows per table, and a sample of rows field by field. Stop `relay serve` first:
    a running relay is refused. Then point store.url of every node at the target."""
    source = state.db
    with contextlib.ExitStack() as stack:
        stack.enter_context(_holding(_source_lock(source)))
        target = _open_target(state, target_url, source)
        stack.callback(target.close)
        _refuse_running_nodes(target, "target")
        started = time.monotonic()
        advance: list[Callable[[int], None]] = []

        def sized(totals: dict[str, int]) -> None:  # a bar on a terminal (relay.cli.progress)
            bar = progress(sum(totals.values()), "copying", quiet=as_json)
            advance.append(stack.enter_context(bar))

        try:
            results = copy_database(
                source,
                target,
                force=force,
                sample=sample,
                progress=lambda _table, n: advance[0](n),
                before=sized,
            )
        except CopyRefused as exc:
            raise click.ClickException(str(exc)) from None
        except StoreError as exc:
            raise click.ClickException(f"the copy failed and wrote nothing: {exc}") from None
        data = _summary(source, target, results, time.monotonic() - started)
    emit(data, as_json, _render_copy)
    if not data["ok"]:
        raise click.ClickException("the target does not match the source (see above)")


def _source_lock(source: Database) -> NodeLock:
    """The source's node lock, taken for the copy (no `relay serve` may start meanwhile);
    refused while one runs. On PostgreSQL, every node of the source's nodes table."""
    if source.shared:
        _refuse_running_nodes(source, "source")
        return _NoLock()
    lock = source.node_lock("")
    if not lock.acquire():
        holder = getattr(lock, "holder", lambda: "?")()
        raise click.ClickException(
            f"a relay serve (pid {holder}) is using {source.display_url}: stop it first (SIGTERM"
            " lets it finish the work in flight), then copy"
        )
    return lock


def _refuse_running_nodes(database: Database, side: str) -> None:
    running = []
    for node in list_nodes(database.read()):
        if node.get("state") not in ("running", "gone"):
            continue
        lock = database.node_lock(node["name"])
        if lock.acquire():
            lock.release()
        else:
            running.append(node["name"])
    if running:
        raise click.ClickException(
            f"relay serve runs on the {side} database {database.display_url} (node"
            f" {', '.join(running)}): stop it first"
        )


def _open_target(state: State, url: str, source: Database) -> Database:
    try:
        target = open_database(url, state.config.path.parent, create=True, hint="--to")
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None
    if target.display_url == source.display_url:
        target.close()
        raise click.ClickException("--to names the database store.url already uses")
    return target


@contextlib.contextmanager
def _holding(lock: NodeLock) -> Any:
    try:
        yield lock
    finally:
        lock.release()


class _NoLock:
    def acquire(self) -> bool:
        return True

    def alive(self) -> bool:
        return True

    def release(self) -> None:
        pass


def _summary(
    source: Database, target: Database, results: list[TableResult], seconds: float
) -> dict:
    return {
        "source": source.display_url,
        "target": target.display_url,
        "seconds": round(seconds, 3),
        "ok": all(r.ok for r in results),
        "rows": sum(r.copied for r in results),
        "sampled": sum(r.sampled for r in results),
        "tables": [
            {
                "table": r.table,
                "source": r.source,
                "copied": r.copied,
                "target": r.target,
                "sampled": r.sampled,
                "ok": r.ok,
                "differences": r.differences,
            }
            for r in results
        ],
    }


def _render_copy(data: dict) -> None:
    click.echo(f"copied {data['source']} -> {data['target']} in {data['seconds']:.1f} s")
    table(
        [
            [
                t["table"],
                t["source"],
                t["copied"],
                t["target"],
                t["sampled"],
                "ok" if t["ok"] else "DIFFERS",
            ]
            for t in data["tables"]
        ],
        ["table", "source", "copied", "target", "sampled", "check"],
    )
    for item in data["tables"]:
        for difference in item["differences"][:10]:
            click.echo(f"  {difference}")
    if data["ok"]:
        click.echo(
            f"every table matches: {data['rows']} rows counted, {data['sampled']} compared field"
            " by field. Next: set [store] url to the target in relay.toml on every node, then"
            " start relay serve."
        )


COMMANDS = [db]
