#!/usr/bin/env python3
"""Make the real-MTA reports of this directory (run by hand, as root; CI only reads them).

    sudo .venv/bin/python tests/data/bounces-mta/make.py [MTA ...] [--chroots DIR]

For each MTA (postfix, exim, opensmtpd, sendmail, courier): a Debian chroot under
--chroots (default /work/wt/mta-chroots, outside the repository: these packages conflict
with the host's Postfix) is made once with debootstrap; then the MTA runs in it inside
private network, mount, UTS and PID namespaces (`unshare`), so it sees only its own
loopback, where the lab's DNS (lab_dns.py), mailbox server and report sink (lab_smtp.py)
run. Seven messages are sent to it (scenarios.py); the reports it sends back are kept as
<MTA>/<NN>-<scenario>.eml next to <NN>-<scenario>.json, the expected reading.
Takes about five minutes per MTA (the queue lifetime is three).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[2]))

import lab_dns  # noqa: E402
import lab_mtas  # noqa: E402
import lab_smtp  # noqa: E402
import scenarios  # noqa: E402

from bounces.verp import decode_token, encode_token  # noqa: E402

DEFAULT_CHROOTS = Path("/work/wt/mta-chroots")
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
GIVE_UP_AFTER = 600.0  # seconds to wait for all reports of one MTA

# Where an MTA's report gives another code than the scenario's default (see scenarios.py).
STATUS: dict[tuple[str, str], str | None] = {
    ("exim", "hostunknown"): "5.0.0",
    ("exim", "delayed"): "4.0.0",
    ("exim", "expired"): "5.0.0",
    ("sendmail", "hostunknown"): "5.1.2",
    ("sendmail", "expired"): "4.4.7",
    ("sendmail", "relayed"): "2.1.5",
    # OpenSMTPD writes no codes at all: Sisimai's stand-ins; none for a success.
    ("opensmtpd", "mesgtoobig"): "5.0.934",
    ("opensmtpd", "hostunknown"): "5.0.912",
    ("opensmtpd", "delayed"): "5.0.944",
    ("opensmtpd", "expired"): "5.0.947",
    ("opensmtpd", "relayed"): None,
    ("courier", "hostunknown"): "5.0.0",
    ("courier", "delayed"): "4.0.0",
    ("courier", "expired"): "5.0.0",
}
# Where an MTA's report names another cause than the scenario's default.
REASON = {
    # OpenSMTPD's warning says why: "Network error on destination MXs" (smtpd/mta.c).
    ("opensmtpd", "delayed"): "networkerror",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mtas", nargs="*", default=list(lab_mtas.MTAS))
    parser.add_argument("--chroots", type=Path, default=DEFAULT_CHROOTS)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    parser.add_argument(
        "--relabel", action="store_true", help="rewrite the .json files only (no MTA runs)"
    )
    args = parser.parse_args()
    if args.relabel:
        return relabel(args.mtas)
    if os.geteuid() != 0:
        parser.error("run as root (debootstrap, chroot and unshare need it)")
    if args.inside:
        return inside(args.inside, args.chroots / args.inside)
    for name in args.mtas:
        if name not in lab_mtas.MTAS:
            parser.error(f"unknown MTA {name!r}; known: {', '.join(lab_mtas.MTAS)}")
        ensure_chroot(args.chroots, lab_mtas.MTAS[name])
        command = ["unshare", "--net", "--mount", "--uts", "--pid", "--fork", "--mount-proc"]
        command += [sys.executable, __file__, "--inside", name, "--chroots", str(args.chroots)]
        subprocess.run(command, check=True)
    return 0


def ensure_chroot(chroots: Path, mta: type[lab_mtas.Mta]) -> None:
    base, root = chroots / "base", chroots / mta.name
    if not base.exists():
        options = ["--variant=minbase", "--include=python3,ca-certificates,iproute2,procps,swaks"]
        subprocess.run(["debootstrap", *options, SUITE, str(base), MIRROR], check=True)
    if root.exists():
        return
    subprocess.run(["cp", "-a", str(base), str(root)], check=True)
    policy = root / "usr/sbin/policy-rc.d"  # no service starts during the installation
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    (root / "etc/mailname").write_text(lab_mtas.HOSTNAME + "\n")
    packages = " ".join(mta.packages)
    install = (
        f"DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages}"
    )
    mounts = f"mount -t proc proc {root}/proc && mount --bind /dev {root}/dev"
    command = f"{mounts} && chroot {root} sh -c '{install}'"
    subprocess.run(["unshare", "--mount", "--fork", "sh", "-c", command], check=True)


def inside(name: str, root: Path) -> int:
    """In the namespaces: bring up the lab, run the MTA, keep the reports."""
    # PID 1 of a namespace ignores SIGTERM unless it has a handler; its exit ends them all.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # One more address on lo: resolvers that honour AI_ADDRCONFIG (OpenSMTPD's libasr)
    # skip 127.0.0.1 when they look for a configured address, and would find none. Not a
    # lab server's: MTAs take their interface addresses for themselves (Sendmail's $=w).
    subprocess.run(["ip", "addr", "add", "127.0.0.6/8", "dev", "lo"], check=True)
    socket.sethostname(lab_mtas.HOSTNAME)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    private_dev(root / "dev")
    catch_syslog(root / "dev/log", root / "var/log/lab-syslog")
    (root / "etc/resolv.conf").write_text(f"nameserver {lab_dns.ADDRESS}\n")
    (root / "etc/mailname").write_text(lab_mtas.HOSTNAME + "\n")
    services = root / "etc/services"  # minbase has no netbase; daemons look up "smtp"
    if not services.exists():
        services.write_text("smtp 25/tcp mail\ndomain 53/tcp\ndomain 53/udp\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 {lab_mtas.HOSTNAME} mx localhost\n")
    lab_dns.serve()
    time.sleep(0.2)
    assert lab_dns.resolves("store.example.org."), "lab DNS does not answer"
    store = lab_smtp.Server("store", *lab_smtp.STORE)
    sink = lab_smtp.Server("sink", *lab_smtp.SINK)
    lab_smtp.serve(store, sink)
    mta = lab_mtas.MTAS[name](root)
    mta.configure()
    mta.start()
    lab_mtas.wait_for_port(25)
    sent = send_all(name)
    wait_for_reports(mta, sink, sent)
    raw = root.parent / "out" / name
    shutil.rmtree(raw, ignore_errors=True)
    lab_smtp.save(sink.kept, raw)
    (raw / "mta.log").write_text(mta.log())
    keep(name, sink.kept)
    return 0


def private_dev(dev: Path) -> None:
    """A /dev of the chroot's own (in our mount namespace): the few nodes daemons open,
    and room for the chroot's /dev/log without touching the host's."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", str(dev)], check=True)
    for node, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
        os.mknod(dev / node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        os.chmod(dev / node, 0o666)


def catch_syslog(path: Path, log: Path) -> None:
    """Sendmail and Courier log only to syslog: keep what they say in `log`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    os.chmod(path, 0o666)

    def keep() -> None:
        with log.open("ab") as out:
            while True:
                out.write(sock.recv(65536) + b"\n")
                out.flush()

    threading.Thread(target=keep, daemon=True).start()


def send_all(name: str) -> list[scenarios.Scenario]:
    """Send the scenario messages as the relay would; returns those the MTA took."""
    sent = []
    for scenario in scenarios.messages():
        token = encode_token(scenarios.SECRET, scenarios.recipient_id(scenario))
        sender = f"b-{token}@{scenarios.SENDER_DOMAIN}"
        rcpt_options = [f"NOTIFY={scenario.notify}"] if scenario.notify else []
        with smtplib.SMTP(
            "127.0.0.1", 25, local_hostname="relay.example.net", source_address=("127.0.0.5", 0)
        ) as client:
            client.ehlo()
            mail_options = ["BODY=8BITMIME"]
            if scenario.utf8 and client.has_extn("smtputf8"):
                mail_options.append("SMTPUTF8")
            elif scenario.utf8:
                # No SMTPUTF8 (OpenSMTPD 6.8, Debian's sendmail): send the 8-bit address
                # anyway, as non-conforming senders do, and keep what the MTA makes of it.
                print(f"{name}: no SMTPUTF8; sending the raw UTF-8 address", file=sys.stderr)
                client.command_encoding = "utf-8"
            try:
                client.sendmail(
                    sender,
                    [scenario.rcpt],
                    scenarios.message(scenario, name),
                    mail_options=mail_options,
                    rcpt_options=rcpt_options,
                )
            except (smtplib.SMTPException, UnicodeEncodeError) as exc:
                print(f"{name}: {scenario.name} not accepted: {exc!r}", file=sys.stderr)
                continue
        sent.append(scenario)
    return sent


def wait_for_reports(mta: lab_mtas.Mta, sink: lab_smtp.Server, sent: list) -> None:
    deadline = time.monotonic() + GIVE_UP_AFTER
    while sent and time.monotonic() < deadline:
        time.sleep(15)
        mta.kick()
        if mta.queue_empty() and len(sink.kept) >= len(sent) + 1:
            time.sleep(5)  # a report may still be on its way out
            return
    print(f"{mta.name}: gave up waiting; {len(sink.kept)} reports", file=sys.stderr)


def keep(name: str, kept: list[lab_smtp.Received]) -> None:
    """Write each scenario's report and its expected reading into this directory."""
    by_message: dict[int, list[lab_smtp.Received]] = {}
    for message in kept:
        number = _message_number(message.recipients)
        if number is not None:
            by_message.setdefault(number, []).append(message)
    target = HERE / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for scenario in scenarios.SCENARIOS:
        reports = by_message.get(scenario.message_number, [])
        wanted = reports[-1] if scenario.report == "last" else reports[0] if reports else None
        if scenario.report == "last" and len(reports) < 2:
            wanted = None
        if wanted is None:
            print(f"{name}: no report for {scenario.name}", file=sys.stderr)
            continue
        stem = f"{scenario.number:02d}-{scenario.name}"
        (target / f"{stem}.eml").write_bytes(wanted.data.replace(b"\r\n", b"\n"))
        text = json.dumps(expected(name, scenario), indent=2, ensure_ascii=False)
        (target / f"{stem}.json").write_text(text + "\n")


def relabel(names: list[str]) -> int:
    """Write each kept report's expected reading again (after a change to the tables)."""
    for name in names:
        for scenario in scenarios.SCENARIOS:
            stem = HERE / name / f"{scenario.number:02d}-{scenario.name}"
            if stem.with_suffix(".eml").exists():
                text = json.dumps(expected(name, scenario), indent=2, ensure_ascii=False)
                stem.with_suffix(".json").write_text(text + "\n")
    return 0


def expected(name: str, scenario: scenarios.Scenario) -> dict:
    reason = REASON.get((name, scenario.name), scenario.reason)
    return {
        "why": f"{name}: {scenario.why}",
        "kind": scenario.kind,
        "recipient": scenario.rcpt,
        "status": STATUS.get((name, scenario.name), scenario.status),
        "reason": reason,
        "reason_group": scenarios.GROUPS[reason],
    }


def _message_number(recipients: list[str]) -> int | None:
    for rcpt in recipients:
        local = rcpt.partition("@")[0]
        if local.startswith("b-"):
            found = decode_token(scenarios.SECRET, local[2:])
            if found is not None:
                return found - 7000
    return None


if __name__ == "__main__":
    sys.exit(main())
