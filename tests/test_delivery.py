"""Issue 3 acceptance: delivery to a real Postfix through real DNS (nsd), over loopback."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.harness import RelayProcess, submit
from tests.keys_in_dns import publish_keys, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

# The end-to-end flows run on both store backends (tests/conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgresql")


def _send(relay: RelayProcess, to: str) -> str:
    return submit(relay, to, "X-Relay-Kind: payment-reminder", "X-Relay-Order: 77")


def test_end_to_end_delivery_is_signed_and_recorded(
    relay: RelayProcess, nsd: NsdServer, postfix: PostfixRig
) -> None:
    publish_keys(nsd, relay)
    qid = _send(relay, names.CUSTOMER)
    row = relay.wait_state(names.CUSTOMER, {"delivered"})[0]
    assert row["message"] == qid and row["last_code"] == 250
    assert "queued as" in row["last_text"]  # Postfix's own reply
    stored = postfix.wait_for_messages(names.CUSTOMER)[0]
    parsed = email.message_from_bytes(stored)
    assert parsed["Return-Path"].startswith("<b-")
    assert parsed["Return-Path"].endswith("@bounces.relay.example.net>")
    assert not [k for k in parsed if k.lower().startswith("x-relay")]
    assert any(
        line.startswith("pass d=relay.example.net") for line in verify_dkim(stored, nsd.nameserver)
    )
    attempts = relay.json("message", "show", qid)["recipients"][0]["attempts_log"]
    assert attempts[0]["mx_host"] == names.MX_HOST and attempts[0]["tls"] == 1


def test_rejected_recipient_is_bounced_with_the_reply(relay: RelayProcess) -> None:
    _send(relay, names.UNKNOWN_USER)
    row = relay.wait_state(names.UNKNOWN_USER, {"bounced"})[0]
    assert (row["last_code"], row["last_status"], row["reason"]) == (550, "5.1.1", "userunknown")
    assert (
        "rejected by the recipient's server: mailbox does not exist (550 5.1.1)"
        in (row["explanation"])
    )
    assert relay.json("blocks", "list")[0]["address"] == names.UNKNOWN_USER


def test_deferred_then_delivered_when_the_server_accepts(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    postfix.set_defer(names.BUSY, True)
    _send(relay, names.BUSY)
    row = relay.wait_state(names.BUSY, {"deferred"})[0]
    assert row["last_code"] in (450, 451) and row["next_attempt_at"] > row["created_at"]
    assert "delayed, retrying at" in row["explanation"]
    postfix.set_defer(names.BUSY, False)
    relay.wait_state(names.BUSY, {"delivered"}, timeout=30)
    assert postfix.wait_for_messages(names.BUSY)


def test_unreachable_mx_is_retried_then_expires(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory({"delivery": {"max_age": "5s", "retry_schedule": "1s*10"}}).start()
    address = f"someone@{names.DEAD_MX_DOMAIN}"
    _send(relay, address)
    row = relay.wait_state(address, {"bounced"}, timeout=30)[0]
    assert row["reason"] == "expired" and row["attempts"] >= 2
    assert "connection refused" in (row["last_text"] or "")


def test_null_mx_and_nxdomain_fail_at_once(relay: RelayProcess) -> None:
    null_mx, nxdomain = f"a@{names.NULL_MX_DOMAIN}", f"b@{names.NXDOMAIN_DOMAIN}"
    _send(relay, null_mx)
    _send(relay, nxdomain)
    first = relay.wait_state(null_mx, {"failed"})[0]
    second = relay.wait_state(nxdomain, {"failed"})[0]
    assert (first["last_status"], first["attempts"]) == ("5.1.10", 1)
    assert (second["last_status"], second["attempts"]) == ("5.1.2", 1)
    assert "null MX" in first["explanation"]
    # The relay's own DNS lookup says so, without a code that reads like a server's reply.
    assert second["explanation"] == (
        f"not sent: the relay's DNS lookup found no domain {names.NXDOMAIN_DOMAIN} (NXDOMAIN)"
    )


def test_first_mx_down_delivers_through_the_second(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    address = f"customer@{names.FALLBACK_MX_DOMAIN}"
    qid = _send(relay, address)
    relay.wait_state(address, {"delivered"})
    assert postfix.wait_for_messages(address)
    attempt = relay.json("message", "show", qid)["recipients"][0]["attempts_log"][-1]
    assert attempt["mx_host"] == names.MX_HOST


def test_implicit_mx_uses_the_domain_address(relay: RelayProcess, postfix: PostfixRig) -> None:
    address = f"customer@{names.IMPLICIT_MX_DOMAIN}"
    _send(relay, address)
    relay.wait_state(address, {"delivered"})


def test_queue_flush_retries_deferred_now(relay_factory, postfix: PostfixRig) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory({"delivery": {"retry_schedule": "1h"}}).start()
    postfix.set_defer(names.BUSY, True)
    _send(relay, names.BUSY)
    relay.wait_state(names.BUSY, {"deferred"})
    listed = relay.json("queue", "list", "--state", "deferred")
    assert [r["address"] for r in listed] == [names.BUSY]
    postfix.set_defer(names.BUSY, False)
    assert "1 deferred or waiting recipient(s)" in relay.run("queue", "flush").stdout
    relay.wait_state(names.BUSY, {"delivered"}, timeout=20)  # well before the 1h retry


def test_queue_flush_also_sends_rows_given_back_after_a_crash_now(  # type: ignore[no-untyped-def]
    relay_factory, postfix: PostfixRig
) -> None:
    """A lease given back after a crash leaves its row `queued` with the next try a retry
    interval after the claim (the message may have been sent just before): flush sends those
    now too, as an admin who flushes the queue expects."""
    relay = relay_factory({"delivery": {"retry_schedule": "1h"}}).start()
    postfix.set_defer(names.BUSY, True)
    _send(relay, names.BUSY)
    relay.wait_state(names.BUSY, {"deferred"})
    # What release_leases() leaves after a crash: queued, no lease, next try an hour ahead.
    assert relay.execute("UPDATE recipients SET state = 'queued' WHERE address = ?", names.BUSY)
    postfix.set_defer(names.BUSY, False)
    assert "1 deferred or waiting recipient(s)" in relay.run("queue", "flush").stdout
    relay.wait_state(names.BUSY, {"delivered"}, timeout=20)  # well before the 1h retry


def test_test_email_goes_through_the_normal_path(
    relay: RelayProcess, postfix: PostfixRig, nsd: NsdServer
) -> None:
    publish_keys(nsd, relay)
    out = relay.run("test-email", "--shop", "mein-shop", "--to", names.CUSTOMER).stdout
    assert "queued as" in out
    relay.wait_state(names.CUSTOMER, {"delivered"})
    stored = postfix.wait_for_messages(names.CUSTOMER)[0]
    # a rendered sample of the default kind (payment-reminder) in the shop's language (de)
    subject = str(email.message_from_bytes(stored, policy=email.policy.default)["Subject"])
    assert subject.startswith("Zahlungserinnerung")
    assert any(line.startswith("pass") for line in verify_dkim(stored, nsd.nameserver))
