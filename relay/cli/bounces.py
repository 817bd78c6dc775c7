"""`relay bounces parse/import/list`."""

from pathlib import Path

import click

from bounces import parse_report, report_to_dict
from relay.cli.common import State, emit, json_option, pass_state, table, when
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
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "rcpt_to",
    multiple=True,
    metavar="ADDRESS",
    help="Envelope recipient it was sent to (a b-<token>@ bounce address).",
)
@json_option
@pass_state
def import_(state: State, file: str, rcpt_to: tuple[str, ...], as_json: bool) -> None:
    """Process a report from a file exactly as if the bounce listener had received it."""
    raw = _read(file)
    config = state.config
    with state.transaction() as tx:
        report_id = store_raw(tx, raw, "import", list(rcpt_to))
        outcome = reports.apply_parsed(
            tx,
            report_id,
            parse_report(raw),
            list(rcpt_to),
            load_secret(config.data_dir),
            config.inbound.bounce_domain,
        )
    emit(
        outcome.__dict__,
        as_json,
        lambda o: click.echo(f"report {o['report_id']}: {o['kind']}, {o['status']}: {o['effect']}"),
    )


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
