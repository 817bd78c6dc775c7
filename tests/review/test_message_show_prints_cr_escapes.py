"""Review finding (cosmetic): `relay message show` ends every header line and every body line
with a literal `\\u000d`.

The stored message has CRLF line endings (as sent). The show command splits head from body at
the empty line and decodes, keeping the CRs; `emit()` then escapes every control character but
newline and tab (relay/cli/common.py, `printable(multiline=True)`), CR included. So the command
an admin reads most shows every message garbled:

    Date: Thu, 03 Dec 2026 16:36:35 +0000\\u000d
    To: max@example.org\\u000d

Real parts: `relay init`, `relay shop add`, `relay test-email` (the submission path without a
running relay), then `relay message show`.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.harness import RelayProcess
from tests.live import UNREACHABLE_DNS


def test_message_show_prints_lines_without_carriage_return_escapes(tmp_path: Path) -> None:
    relay = RelayProcess(tmp_path / "relay", UNREACHABLE_DNS, mx_port=9).init()
    relay.add_shop()
    sent = relay.run("test-email", "--shop", "mein-shop", "--to", "max@example.org").stdout
    message_id = re.search(r"queued as (\w+)", sent).group(1)  # type: ignore[union-attr]
    shown = relay.run("message", "show", message_id).stdout
    assert "Subject: " in shown and "Zahlungserinnerung" in shown
    assert "\\u000d" not in shown, shown[:600]
