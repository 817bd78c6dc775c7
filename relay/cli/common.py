"""Shared pieces of the CLI: finding relay.toml, opening the store, printing."""

import contextlib
import datetime
import json
import os
import re
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

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._conn: sqlite3.Connection | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            path = Path(self.config_path or os.environ.get("RELAY_CONFIG") or "relay.toml")
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


# C0 and C1 controls and DEL (ESC ]0;...BEL sets a terminal's title, CSI moves its cursor),
# and the bidirectional overrides that reorder what a line shows (Unicode TR 9, Trojan Source).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_LINE = re.compile(f"[{_UNSAFE}\t\n]")
_UNSAFE_TEXT = re.compile(f"[{_UNSAFE}]")
_UNSAFE_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def printable(text: str, multiline: bool = False) -> str:
    """`text` safe to print: every character that could drive the terminal is shown as a
    \\uXXXX escape (a JSON escape too). `multiline` keeps newlines and tabs (message text)."""
    return (_UNSAFE_TEXT if multiline else _UNSAFE_LINE).sub(_escape, text)


def _printable_data(data: Any) -> Any:
    if isinstance(data, str):
        return printable(data, multiline=True)
    if isinstance(data, dict):
        return {key: _printable_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_printable_data(item) for item in data]
    return data


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print `data` as one JSON document or through `render`; either way no string from a
    message or a report (an order number, a subject, a remote server's text) reaches the
    terminal with control characters in it."""
    if as_json:
        # json escapes C0 itself; DEL, C1 and bidi overrides it would print as they are.
        text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
        click.echo(_UNSAFE_JSON.sub(_escape, text))
    else:
        render(_printable_data(data))


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def table(rows: list[list[str]], headers: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    rows = [[printable(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    for line in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=False)))


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
