"""Shared pieces of the CLI: finding relay.toml, opening the store, printing."""

import contextlib
import datetime
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from config import Config, ConfigError, load_config
from relay.store.connection import connect, migrate
from relay.store.writer import WriteLock, write_lock_path


class State:
    """Lazily loaded config and database for one CLI invocation."""

    def __init__(self, config_path: str | None, verbose: bool = False) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._config: Config | None = None
        self._conn: sqlite3.Connection | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            path = Path(self.config_path or os.environ.get("RELAY_CONFIG") or "relay.toml")
            if path.is_dir():
                raise click.ClickException(
                    f"{path} is a directory; pass the settings file in it, e.g."
                    f" --config {path / 'relay.toml'} (`relay init --dir {path}` writes one)"
                )
            try:
                self._config = load_config(path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._config

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            path = self.config.database_path
            if not path.parent.exists():
                raise click.ClickException(f"{path.parent} does not exist: run `relay init`")
            self._conn = connect(path)
            migrate(self._conn)
        return self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write: all of its statements or none, taken the way `relay serve`'s writers
        take theirs (the write lock, then BEGIN IMMEDIATE), so neither waits in SQLite's
        busy loop for the other."""
        conn = self.conn
        lock = WriteLock(write_lock_path(self.config.database_path))
        try:
            with lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        finally:
            lock.close()


pass_state = click.make_pass_decorator(State)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(iso_times(data), indent=2, default=str, ensure_ascii=False))
    else:
        render(data)


def iso_times(data: Any, key: str = "") -> Any:
    """`data` with every time as ISO 8601 with its zone (UTC), for --json output: the value
    of a key `at`, `*_at` or `*_since` (the names the relay gives its times) that holds epoch
    seconds. One place, so no command prints epoch numbers."""
    if isinstance(data, dict):
        return {k: iso_times(v, k) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [iso_times(v) for v in data]
    if _is_time_key(key) and isinstance(data, int | float) and not isinstance(data, bool):
        return iso_time(data)
    return data


def _is_time_key(key: str) -> bool:
    return key == "at" or key.endswith(("_at", "_since"))


def iso_time(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(timespec="seconds")


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def table(rows: list[list[str]], headers: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    for line in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=False)))


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
