"""The README's quick start, pasted as one block into a fresh shell on a machine whose only
network is loopback: it must end with a `delivered` row and the message in the sink.

The block runs as one `bash -e` script made from the README text, in a temporary directory,
with the venv's `relay` first on PATH, inside a network namespace of its own (`unshare --net`:
only `lo`, so no outside DNS and no port clash with other tests). The relay and the sink it
leaves running are stopped afterwards by the pids they wrote.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.rig.tools import require, require_root, wait_until

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_block() -> str:
    text = README.read_text()
    block = re.search(r"<!-- quickstart -->\s*```sh\n(.*?)```", text, re.S)
    assert block, "README has no quick start block"
    return block.group(1)


def test_readme_quick_start_ends_with_a_delivered_message_in_the_sink(tmp_path: Path) -> None:
    require("swaks", "unshare", "ip")
    require_root("a network namespace (unshare --net)")
    script = tmp_path / "quickstart.sh"
    script.write_text(quickstart_block())
    env = {k: v for k, v in os.environ.items() if k != "RELAY_CONFIG"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    work = tmp_path / "shell"
    work.mkdir()
    output = tmp_path / "output.txt"
    command = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec bash -e "$0"']
    try:
        with output.open("wb") as out:  # a file: the detached processes keep no pipe open
            done = subprocess.run(
                [*command, str(script)],
                cwd=work,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=240,
            )
        text = output.read_text(errors="replace")
        assert done.returncode == 0, text
        queue_id = re.search(r"250 2\.0\.0 Ok: queued as (\w+)", text)
        assert queue_id, text
        rows = [line for line in text.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
        assert len(rows) == 1 and queue_id.group(1) in rows[0], text  # `relay messages`
        assert " max@example.org " in rows[0] and " delivered " in rows[0], text
        # `cat mail/new/*`: the message as the customer gets it, signed, without X-Relay-*.
        customer_copy = text[text.index("Return-Path: <b-") :]
        assert "Delivered-To: max@example.org" in customer_copy
        assert "DKIM-Signature:" in customer_copy
        assert "From: Mein Shop <shops@relay.example.net>" in customer_copy
        assert "Reply-To: Mein Shop <info@mein-shop.example.com>" in customer_copy
        assert "X-Relay-" not in customer_copy
    finally:
        _stop(work / "myrelay" / "var" / "relay.pid", work / "myrelay" / "mail" / "sink.pid")


def _stop(*pid_files: Path) -> None:
    """SIGTERM what the block left running (found by its pid files), and wait for it."""
    pids = []
    for path in pid_files:
        with contextlib.suppress(OSError, ValueError):
            pid = int(path.read_text())
            os.kill(pid, signal.SIGTERM)
            pids.append(pid)
    wait_until(lambda: not any(_alive(p) for p in pids), 60, "the quick start's processes")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"
