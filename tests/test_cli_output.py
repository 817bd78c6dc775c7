"""Issue 14 item 5: output a person reads, and JSON a script reads.

`relay message show` prints events and attempts as sentences (never a dict), an attempt that
never connected says so; `relay shop list --json` names the shop once; every `--json` output
gives times as ISO 8601 with the zone, never epoch numbers.
Real parts: `relay serve`, swaks, nsd, the Postfix rig.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from tests.harness import SHOP, RelayProcess, queue_id, shop_mail
from tests.rig import names

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")
DEAD = f"someone@{names.DEAD_MX_DOMAIN}"  # connection refused: deferred, no connection
NOWHERE = f"b@{names.NXDOMAIN_DOMAIN}"  # NXDOMAIN: failed, no connection


def _message_with_every_outcome(relay: RelayProcess) -> str:
    to = ",".join((names.CUSTOMER, NOWHERE, DEAD))
    qid = queue_id(shop_mail(relay, to, "X-Relay-Kind: dunning", "X-Relay-Order: O-1").stdout)
    relay.wait_state(names.CUSTOMER, {"delivered"})
    relay.wait_state(NOWHERE, {"failed"})
    relay.wait_state(DEAD, {"deferred"})
    return qid


def test_message_show_says_what_happened_in_words(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory({"delivery": {"retry_schedule": "1h"}}).start()
    qid = _message_with_every_outcome(relay)
    shown = relay.run("message", "show", qid).stdout
    assert "{" not in shown.split("\nevents:")[1].split("\n\n")[0], shown  # no dict reprs
    assert "tls=False" not in shown and "(0 ms)" not in shown
    lines = shown.splitlines()

    def line(pattern: str) -> str:
        found = [x for x in lines if re.search(pattern, x)]
        assert len(found) == 1, f"{pattern!r} in:\n{shown}"
        return found[0]

    # Attempts: a connection (host, TLS, the server's reply, time taken) or none, and why.
    assert re.search(r" mx1\.example\.net tls=yes 250 2\.0\.0 .* \(\d+ ms\)$", line("tls=yes"))
    nxdomain = line("no connection: the relay's DNS")
    assert nxdomain.endswith(f"found no domain {names.NXDOMAIN_DOMAIN} (NXDOMAIN) (5.1.2)"), (
        nxdomain
    )
    assert "connection refused" in line(r"no connection: .*mx-dead")
    # Events: time, kind, the detail in words.
    assert re.search(r"accepted +for 3 recipients, from the relay's fallback address", shown)
    assert re.search(rf"delivered +{names.CUSTOMER}: 250 2\.0\.0 .*\(from mx1", shown)
    assert re.search(rf"failed +{NOWHERE}: the relay's DNS lookup found no domain", shown)
    assert re.search(rf"deferred +{DEAD}: .*connection refused.*; next try \d{{4}}-", shown)
    assert "gave up" not in shown  # a deferral is not the end


def test_every_json_output_gives_times_in_iso_8601(relay_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory({"delivery": {"retry_schedule": "1h"}}).start()
    qid = _message_with_every_outcome(relay)
    relay.run("blocks", "add", f"blocked@{names.CUSTOMER_DOMAIN}", "--note", "test")
    report = tmp_path / "report.eml"
    report.write_bytes(b"From: MAILER-DAEMON@example.org\r\nSubject: x\r\n\r\nnothing\r\n")
    relay.run("bounces", "import", str(report))
    relay.run("dns", "check", SHOP)
    # A row in flight whose lease lapsed (a worker that hangs): `queue list` and `status`
    # show when its lease ended. Its next try is an hour ahead, so no worker takes it.
    now = time.time()
    relay.execute(
        "UPDATE recipients SET state = 'inflight', lease_node = 'n', lease_owner = 'n/w0.1',"
        " lease_expires = ?, claimed_at = ? WHERE address = ?",
        now - 60,
        now - 120,
        DEAD,
    )
    outputs = {
        " ".join(args): relay.json(*args)
        for args in (
            ("messages",),
            ("message", "show", qid),
            ("shop", "list"),
            ("shop", "show", SHOP),
            ("shop", "kinds", SHOP),
            ("status",),
            ("blocks", "list"),
            ("optouts", "list"),
            ("queue", "list"),
            ("bounces", "list"),
            ("dns", "check", SHOP),
        )
    }
    times = 0
    for command, data in outputs.items():
        for key, value in _leaves(data):
            assert not _epoch(value), f"`relay {command} --json`: {key} = {value} (epoch)"
            if key.split(".")[-1] == "at" or key.endswith(("_at", "_since", "_expires")):
                assert value is None or ISO.match(value), f"{command}: {key} = {value!r}"
                times += value is not None
    assert times > 20  # the walk saw the times (a renamed key would slip through)
    [held] = [r for r in outputs["queue list"] if r["state"] == "inflight"]
    assert ISO.match(held["lease_expires"]), held
    assert ISO.match(outputs["status"]["stuck"][0]["lease_expires"])
    accepted = outputs[f"message show {qid}"]["created_at"]
    assert datetime.datetime.fromisoformat(accepted).tzinfo is not None


def test_shop_list_json_names_the_shop_once(relay: RelayProcess) -> None:
    shops = relay.json("shop", "list")
    assert [s["name"] for s in shops] == [SHOP]
    assert "shop" not in shops[0]
    assert all("shop" not in change for change in shops[0]["identity_changes"])
    assert ISO.match(shops[0]["created_at"])


def _leaves(data: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, f"{path}.{k}".strip("."))]
    if isinstance(data, list):
        return [leaf for v in data for leaf in _leaves(v, path)]
    return [(path, data)]


def _epoch(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 1e9
