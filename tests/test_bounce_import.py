"""Issue 14 item 6: `relay bounces import` of a whole mbox or Maildir (a year of reports from a
previous system), with a progress bar on a terminal and a summary by kind and outcome.

Real parts: the `relay` program on a pseudo-terminal (pty) and on pipes; the reports are the
real-world samples of tests/data/bounces.
"""

from __future__ import annotations

import json
import mailbox
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import RelayProcess

SAMPLES = sorted((Path(__file__).parent / "data" / "bounces").glob("*.eml"))
ROUNDS = 5  # 9 samples x 5: enough reports for the bar to move
RELAY = [sys.executable, "-m", "relay"]


@pytest.fixture
def offline(tmp_path: Path) -> RelayProcess:
    return RelayProcess(tmp_path / "relay", "127.0.0.1:9", 9).init()


def _expected_kinds() -> dict[str, int]:
    kinds: dict[str, int] = {}
    for sample in SAMPLES:
        kind = json.loads(sample.with_suffix(".json").read_text())["kind"]
        kinds[kind] = kinds.get(kind, 0) + ROUNDS
    return kinds


def _mbox(path: Path) -> Path:
    box = mailbox.mbox(path)
    for _ in range(ROUNDS):
        for sample in SAMPLES:
            box.add(sample.read_bytes())
    box.flush()
    return path


def _maildir(path: Path) -> Path:
    box = mailbox.Maildir(path)
    for _ in range(ROUNDS):
        for sample in SAMPLES:
            box.add(sample.read_bytes())
    return path


def test_an_mbox_is_imported_with_a_summary_and_no_bar_off_a_terminal(
    offline: RelayProcess, tmp_path: Path
) -> None:
    source = _mbox(tmp_path / "year.mbox")
    done = offline.run("bounces", "import", str(source))
    total = len(SAMPLES) * ROUNDS
    assert done.stderr == ""  # no bar, not even its label, when stderr is no terminal
    assert f"imported {total} reports from {source} (mbox)" in done.stdout
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(_expected_kinds().items(), key=_by_count))
    assert f"by kind: {kinds}" in done.stdout
    assert f"by outcome: unrecognized {total}" in done.stdout  # no message of ours in them
    assert "errors: 0" in done.stdout
    assert len(offline.json("bounces", "list")) == total


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def test_a_maildir_is_imported_and_json_is_one_document(
    offline: RelayProcess, tmp_path: Path
) -> None:
    source = _maildir(tmp_path / "Maildir")
    summary = offline.json("bounces", "import", str(source))
    assert (summary["format"], summary["reports"]) == ("maildir", len(SAMPLES) * ROUNDS)
    assert summary["kinds"] == dict(sorted(_expected_kinds().items(), key=_by_count))
    assert summary["errors"] == []


def test_a_terminal_shows_a_progress_bar_but_not_with_json(
    offline: RelayProcess, tmp_path: Path
) -> None:
    source = _mbox(tmp_path / "year.mbox")
    command = [*RELAY, "--config", str(offline.config), "bounces", "import", str(source)]
    shown = _on_terminal(command)
    assert "importing mbox  [#" in shown, shown
    assert f"{len(SAMPLES) * ROUNDS}/{len(SAMPLES) * ROUNDS}" in shown
    assert "imported 45 reports" in shown
    as_json = _on_terminal([*command, "--json"])
    assert "importing" not in as_json and "[#" not in as_json
    assert json.loads(as_json)["reports"] == 45


def test_one_recipient_for_a_whole_mailbox_is_a_usage_error(
    offline: RelayProcess, tmp_path: Path
) -> None:
    source = _mbox(tmp_path / "year.mbox")
    done = offline.run("bounces", "import", str(source), "--to", "b-x@b.example", check=False)
    assert done.returncode == 2 and "single report" in done.stderr


def test_a_directory_that_is_no_maildir_is_refused(offline: RelayProcess, tmp_path: Path) -> None:
    done = offline.run("bounces", "import", str(tmp_path), check=False)
    assert done.returncode == 2 and "not a Maildir" in done.stderr


def _on_terminal(command: list[str]) -> str:
    """Run with stdout and stderr on a pseudo-terminal; everything it wrote there."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    assert proc.wait(timeout=120) == 0, out
    return out.decode(errors="replace").replace("\r\n", "\n")


def test_a_report_that_fails_is_counted_and_the_others_are_kept(
    offline: RelayProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug on one report (injected behind the store seam) costs that report only, even in
    the middle of a batch that shares one transaction."""
    from click.testing import CliRunner

    from relay.cli import bounces as bounces_cli
    from relay.cli import main

    real = bounces_cli.store_raw

    def store_or_fail(conn, raw, *args):  # type: ignore[no-untyped-def]
        if b"POISON" in raw:
            raise RuntimeError("injected failure")
        return real(conn, raw, *args)

    monkeypatch.setattr(bounces_cli, "store_raw", store_or_fail)
    source = _mbox(tmp_path / "year.mbox")
    box = mailbox.mbox(source)
    box.add(b"From: MAILER-DAEMON@example.org\nSubject: POISON\n\nx\n")  # report 46
    for sample in SAMPLES[:3]:
        box.add(sample.read_bytes())
    box.flush()
    command = ["--config", str(offline.config), "bounces", "import", str(source), "--json"]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    total = len(SAMPLES) * ROUNDS + 4
    assert summary["errors"] == [{"index": 46, "error": "RuntimeError: injected failure"}]
    assert summary["reports"] == total - 1
    assert len(offline.json("bounces", "list")) == total - 1  # the batch was not lost
