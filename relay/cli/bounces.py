"""`relay bounces parse/import/list`."""

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from bounces import Report, parse_report, report_to_dict
from relay.cli import mailboxes
from relay.cli.common import State, emit, json_option, pass_state, table, when
from relay.cli.progress import progress
from relay.inbound import reports
from relay.keys import load_secret
from relay.store.reports import list_reports, store_raw


@click.group()
def bounces() -> None:
    """Bounce messages and spam complaints that came back."""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None


@bounces.command("parse")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def parse(file: str, as_json: bool) -> None:
    """Print what a report says (kind, recipients, status, reason); changes nothing."""
    data = report_to_dict(parse_report(_read(file)))
    emit(data, as_json, _render_parsed)


def _render_parsed(data: dict) -> None:
    click.echo(f"kind: {data['kind']}  (format {data['format'] or '-'})")
    click.echo(f"message-id: {data['message_id'] or '-'}  token: {data['token'] or '-'}")
    for r in data["recipients"]:
        click.echo(
            f"  {r['address']}: {r['action']} {r['status'] or ''} {r['reason']}"
            f"  {r['diagnostic'][:120]}"
        )


@bounces.command("import")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--to",
    "rcpt_to",
    multiple=True,
    metavar="ADDRESS",
    help="Envelope recipient it was sent to (a b-<token>@ bounce address); one report only.",
)
@json_option
@pass_state
def import_(state: State, source: Path, rcpt_to: tuple[str, ...], as_json: bool) -> None:
    """Process reports from a file exactly as if the bounce listener had received them.

    SOURCE is one report (a message file), an mbox file or a Maildir directory (a year of
    reports from a previous system, say): then a progress bar on a terminal, and a summary
    by kind and outcome at the end (exit status 1 if a report could not be processed).
    """
    found = mailboxes.open_source(source)
    if found is None:
        outcome = _import_one(state, _read(str(source)), list(rcpt_to))
        emit(outcome.__dict__, as_json, _render_outcome)
        return
    if rcpt_to:
        raise click.UsageError("--to names the envelope recipient of a single report")
    summary = mailboxes.Summary(str(source), found.format)
    started = time.monotonic()
    with progress(found.count, f"importing {found.format}", quiet=as_json) as advance:
        for batch in _batches(enumerate(found.messages, 1), _BATCH):
            _import_batch(state, batch, summary)
            advance(len(batch))
    summary.seconds = round(time.monotonic() - started, 1)
    emit(summary.as_dict(), as_json, _render_summary)
    if summary.errors:
        sys.exit(1)


_BATCH = 100  # reports per transaction: one fsync each, not one per report (~6 ms each here)


def _batches(items: Iterator[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _import_batch(state: State, batch: list[tuple[int, bytes]], summary: mailboxes.Summary) -> None:
    """One transaction for the batch; if any report in it fails, each is done alone, so one
    bad report (counted as an error) never stops a year's import or loses the others."""
    try:
        parsed = [(raw, parse_report(raw)) for _, raw in batch]  # pure: before the lock
        with state.transaction() as conn:
            outcomes = [_apply(state, conn, raw, report, []) for raw, report in parsed]
    except Exception:
        for index, raw in batch:
            try:
                outcome = _import_one(state, raw, [])
            except Exception as exc:
                summary.failed(index, exc)
            else:
                summary.add(outcome.kind, outcome.status)
        return
    for outcome in outcomes:
        summary.add(outcome.kind, outcome.status)


def _import_one(state: State, raw: bytes, rcpt_to: list[str]) -> reports.Outcome:
    report = parse_report(raw)
    with state.transaction() as conn:
        return _apply(state, conn, raw, report, rcpt_to)


def _apply(
    state: State, conn: Any, raw: bytes, report: Report, rcpt_to: list[str]
) -> reports.Outcome:
    """Store the raw report, then match and apply it, in the caller's transaction."""
    config = state.config
    report_id = store_raw(conn, raw, "import", rcpt_to)
    return reports.apply_parsed(
        conn,
        report_id,
        report,
        rcpt_to,
        load_secret(config.data_dir),
        config.inbound.bounce_domain,
    )


def _render_outcome(o: dict) -> None:
    click.echo(f"report {o['report_id']}: {o['kind']}, {o['status']}: {o['effect']}")


def _render_summary(data: dict) -> None:
    click.echo(
        f"imported {data['reports']} reports from {data['source']} ({data['format']})"
        f" in {data['seconds']} s"
    )
    for title, key in (("kind", "kinds"), ("outcome", "outcomes")):
        counts = ", ".join(f"{name} {n}" for name, n in data[key].items()) or "-"
        click.echo(f"  by {title}: {counts}")
    click.echo(f"  errors: {len(data['errors'])}")
    for error in data["errors"][:20]:
        click.echo(f"    message {error['index']}: {error['error']}")


@bounces.command("list")
@click.option("--unrecognized", is_flag=True, help="Only reports that matched no message.")
@click.option(
    "--unverified",
    is_flag=True,
    help="Only reports that named a message by its Message-ID alone, without a signed"
    " reference: kept and shown, they changed nothing.",
)
@json_option
@pass_state
def list_(state: State, unrecognized: bool, unverified: bool, as_json: bool) -> None:
    """Reports that came in, newest first, with what they changed.

    Status: matched (it proved its recipient with a signed reference and took effect),
    unverified (it only quoted a Message-ID: nothing changed), duplicate (the same as an
    earlier report: counted once), opt-out, unrecognized."""
    if unrecognized and unverified:
        raise click.UsageError("--unrecognized and --unverified exclude each other")
    rows = list_reports(state.conn, unrecognized, status="unverified" if unverified else None)
    emit(
        rows,
        as_json,
        lambda data: table(
            [
                [
                    r["id"],
                    when(r["received_at"]),
                    r["kind"] or "-",
                    r["status"],
                    r["mail_from"] or "<>",
                    r["parsed"].get("effect", ""),
                ]
                for r in data
            ],
            ["id", "received", "kind", "status", "from", "effect"],
        ),
    )


COMMANDS = [bounces]
