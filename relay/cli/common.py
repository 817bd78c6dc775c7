"""Shared pieces of the CLI: finding relay.toml, opening the store, printing."""

import contextlib
import datetime
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from config import Config, ConfigError, load_config
from relay.errors import SetupError
from relay.store.db import Database, open_database
from relay.store.errors import StoreError
from relay.store.sql import Conn, Tx


class State:
    """Lazily loaded config and database for one CLI invocation."""

    def __init__(self, config_path: str | None, verbose: bool = False) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._config: Config | None = None
        self._db: Database | None = None

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
    def db(self) -> Database:
        if self._db is None:
            config = self.config
            try:
                self._db = open_database(config.store.url, config.path.parent)
            except SetupError as exc:
                raise click.ClickException(str(exc)) from None
        return self._db

    @property
    def conn(self) -> Conn:
        """This command's read handle."""
        return self.db.read()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write: all of its statements or none."""
        try:
            with self.db.transaction() as tx:
                yield tx
        except StoreError as exc:
            raise click.ClickException(f"the database refused the change: {exc}") from None


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


def _printable_data(data: Any, multiline: frozenset[str], path: str = "") -> Any:
    if isinstance(data, str):
        return printable(data, multiline=path in multiline)
    if isinstance(data, dict):
        return {
            key: _printable_data(value, multiline, f"{path}.{key}" if path else str(key))
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [_printable_data(item, multiline, path) for item in data]
    return data


def emit(
    data: Any, as_json: bool, render: Callable[[Any], None], multiline: Iterable[str] = ()
) -> None:
    """Print `data` as one JSON document or through `render`; either way no string from a
    message or a report (an order number, a subject, a remote server's text) reaches the
    terminal with control characters in it. Newlines too are shown escaped, except in the
    values at the `multiline` paths (dotted keys, lists skipped: "recipients.detail"), which
    are text of many lines: a remote server's reply with a newline in it would otherwise
    print a line of its own choosing."""
    if as_json:
        # json escapes C0 itself; DEL, C1 and bidi overrides it would print as they are.
        text = json.dumps(iso_times(data), indent=2, default=str, ensure_ascii=False)
        click.echo(_UNSAFE_JSON.sub(_escape, text))
    else:
        render(_printable_data(data, frozenset(multiline)))


def iso_times(data: Any, key: str = "") -> Any:
    """`data` with every time as ISO 8601 with its zone (UTC), for --json output: the value
    of a key `at`, `*_at` or `*_since` (the names the relay gives its times) that holds epoch
    seconds, and of `*_expires` or `*_until` (a lease's or a secret's end). One place, so no
    command prints epoch numbers."""
    if isinstance(data, dict):
        return {k: iso_times(v, k) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [iso_times(v) for v in data]
    if _is_time_key(key) and isinstance(data, int | float) and not isinstance(data, bool):
        return iso_time(data)
    return data


def _is_time_key(key: str) -> bool:
    return key == "at" or key.endswith(("_at", "_since", "_expires", "_until"))


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
    rows = [[printable(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    for line in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=False)))


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
