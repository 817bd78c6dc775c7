"""A private Postfix instance on 127.0.0.1:<port>: the receiving MTA of delivery tests.

How it runs as root without touching /etc/postfix: the rig writes its own
main.cf/master.cf into `<root>/conf`, creates the queue tree itself (what
`post-install create-missing` would do) and runs the master directly:
`/usr/lib/postfix/sbin/master -s -c <root>/conf`, in the foreground as a
child of the test process. Postfix requires a non-default config directory
to be listed in the default main.cf (`alternate_config_directories`) only
for unprivileged callers; as root (euid 0) the check is skipped, so no
/etc/postfix/main.cf is needed at all. `postqueue -c` and `postsuper -c`
work the same way. Stop: SIGTERM to the master (it passes the signal on to
its process group), then SIGKILL to whatever is left of that group.

See tests/dns/README.md for the addresses and what each one does.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.rig import names
from tests.rig import postfix_config as cf
from tests.rig.certs import self_signed
from tests.rig.postfix_master import make_queue_tree, stop_master
from tests.rig.tools import (
    end_watchdog,
    free_port,
    tail,
    wait_for_port,
    wait_until,
    watchdog,
    which,
)

START_TIMEOUT = 15.0


class PostfixRig:
    """A private Postfix: virtual mailboxes for the test domains, DSNs to the relay."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        bounce_relay_port: int | None = None,
        bounce_domain: str = names.BOUNCE_DOMAIN,
        extra_relay_domains: tuple[str, ...] = (names.SHOP_RETURN_PATH,),
        tls: bool = True,
        too_big_limit: int = 1024,
        main_cf: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        mailbox_user = pwd.getpwnam("nobody")
        self.settings = cf.Settings(
            port=port or free_port(),
            size_hop_port=free_port(),
            gateway_hop_port=free_port(),
            bounce_relay_port=bounce_relay_port or free_port(),
            bounce_domain=bounce_domain,
            extra_relay_domains=extra_relay_domains,
            mailbox_uid=mailbox_user.pw_uid,
            mailbox_gid=mailbox_user.pw_gid,
            too_big_limit=too_big_limit,
            tls=tls,
            main_cf=dict(main_cf or {}),
        )
        self._default_deferred = dict(self.settings.deferred)
        self._private_root = False  # True: the root is a /tmp directory of our own
        self.layout = cf.Layout(self._choose_root())
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    # -- properties ---------------------------------------------------------

    @property
    def port(self) -> int:
        return self.settings.port

    @property
    def bounce_relay_port(self) -> int:
        """Where Postfix sends DSNs and mail for the bounce domain (the relay inbound)."""
        return self.settings.bounce_relay_port

    @property
    def bounce_domain(self) -> str:
        return self.settings.bounce_domain

    @property
    def log_path(self) -> Path:
        return self.layout.log

    def log_text(self) -> str:
        return self.layout.log.read_text(errors="replace") if self.layout.log.exists() else ""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> PostfixRig:
        master = Path(cf.DAEMON_DIR) / "master"
        if not master.exists():
            raise RuntimeError(f"{master} missing: run .ci/deps (Debian package postfix)")
        self._prepare_tree()
        self._write_config()
        env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
        self._proc = subprocess.Popen(
            [str(master), "-s", "-c", str(self.layout.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        atexit.register(self.stop)  # also when the test run is interrupted
        try:
            self._watchdog = watchdog(self._proc.pid)  # and when it is killed
            for port in (self.port, self.settings.size_hop_port, self.settings.gateway_hop_port):
                wait_for_port(port, timeout=START_TIMEOUT, alive=lambda: self.running)
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"postfix did not start: {exc}\n{tail(self.log_path)}") from None
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        atexit.unregister(self.stop)
        end_watchdog(self._watchdog)
        self._watchdog = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_master(proc)

    def reload(self) -> None:
        """`postfix reload`: the master re-reads its configuration (SIGHUP)."""
        if not self.running:
            raise RuntimeError(f"postfix is not running:\n{tail(self.log_path)}")
        assert self._proc is not None
        self._proc.send_signal(signal.SIGHUP)

    def restart(self) -> None:
        """Stop and start (the queue is kept): for changes a reload does not pick up."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop, and remove the /tmp root if one was needed (see _choose_root).

        The log is kept as <workdir>/postfix.log.
        """
        self.stop()
        if self._private_root:
            with contextlib.suppress(OSError):
                shutil.copyfile(self.layout.log, self.workdir / "postfix.log")
            shutil.rmtree(self.layout.root, ignore_errors=True)

    def __enter__(self) -> PostfixRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- queue ------------------------------------------------------------------

    def flush(self) -> None:
        """`postqueue -f`: try every queued message now."""
        self._run("postqueue", "-f")

    def mailq(self) -> list[dict[str, Any]]:
        """The queue as `postqueue -j` reports it, one dict per message."""
        out = self._run("postqueue", "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_queue_empty(self, timeout: float = 20.0) -> None:
        wait_until(lambda: not self.mailq(), timeout, "the postfix queue to drain")

    def purge_queue(self) -> None:
        """`postsuper -d ALL`: drop every queued message (e.g. DSNs nobody took)."""
        self._run("postsuper", "-d", "ALL")

    # -- recipients -------------------------------------------------------------

    def set_defer(self, address: str, on: bool = True, reply: str = cf.DEFAULT_DEFER_REPLY) -> None:
        """Answer RCPT TO:<address> with `reply` (a 4xx) while `on`; return once in effect."""
        if not (reply[:1] == "4" and reply[:3].isdigit()):
            raise ValueError(f"a defer reply must be 4xx, not {reply!r}")
        address = address.lower()
        if on:
            self.settings.deferred[address] = reply
        else:
            self.settings.deferred.pop(address, None)
        self._write_tables()
        if not self.running:
            return
        self.reload()
        code = int(reply[:3])

        def in_effect() -> bool:
            answer = self._rcpt_code(address)
            return answer == code if on else answer is not None and answer // 100 != 4

        what = f"postfix to {'defer' if on else 'stop deferring'} {address}"
        wait_until(in_effect, 10.0, what, interval=0.05)

    def set_bounce_relay_port(self, port: int) -> None:
        """Send DSNs to another relay inbound port (restarts Postfix; the queue stays)."""
        self.settings.bounce_relay_port = port
        self._write_tables()
        if self.running:
            self.restart()

    def rcpt_reply(self, address: str, sender: str = "probe@example.org") -> tuple[int, str]:
        """What this Postfix answers to RCPT TO:<address> (no message is sent)."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.ehlo("probe.example.org")
            smtp.mail(sender)
            code, text = smtp.rcpt(address)
            smtp.rset()
        return code, text.decode(errors="replace")

    # -- mailboxes ----------------------------------------------------------------

    def maildir(self, address: str) -> Path:
        """The maildir holding `address`'s mail (one per domain; see maildir_messages)."""
        return self.layout.maildirs / address.lower().rpartition("@")[2]

    def maildir_messages(self, address: str) -> list[bytes]:
        """Messages delivered to `address` (new/ and cur/), oldest first.

        A domain shares one maildir; a message belongs to the recipient named in
        the first Delivered-To header, which the virtual delivery agent prepends.
        """
        wanted = address.lower()
        box = self.maildir(address)
        files = [p for sub in ("new", "cur") if (box / sub).is_dir() for p in (box / sub).iterdir()]
        files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
        messages = [p.read_bytes() for p in files]
        return [m for m in messages if _delivered_to(m) == wanted]

    def wait_for_messages(self, address: str, count: int = 1, timeout: float = 20.0) -> list[bytes]:
        """Wait until `address` holds at least `count` messages; return them all."""
        wait_until(
            lambda: len(self.maildir_messages(address)) >= count,
            timeout,
            f"{count} message(s) in the maildir of {address}",
            interval=0.05,
        )
        return self.maildir_messages(address)

    def clear_maildirs(self) -> None:
        base = self.layout.maildirs
        if base.is_dir():
            for child in base.iterdir():
                shutil.rmtree(child, ignore_errors=True)

    def reset(self) -> None:
        """Back to the start state between tests: empty queue and maildirs, default defers."""
        if self.running:
            self.purge_queue()
        self.clear_maildirs()
        if self.settings.deferred != self._default_deferred:
            for address in list(self.settings.deferred):
                if address not in self._default_deferred:
                    self.set_defer(address, False)
            for address, reply in self._default_deferred.items():
                if self.settings.deferred.get(address) != reply:
                    self.set_defer(address, True, reply)

    # -- internals ----------------------------------------------------------------

    def _choose_root(self) -> Path:
        """workdir/postfix, or a /tmp directory when the mailbox user cannot reach workdir.

        The virtual delivery agent writes maildirs as `nobody`, so every parent of
        the maildir base must be searchable by others; pytest's tmp_path
        (/tmp/pytest-of-root is 0700) is not.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        if _searchable_by_others(self.workdir):
            root = self.workdir / "postfix"
            root.mkdir(exist_ok=True)
        else:
            root = Path(tempfile.mkdtemp(prefix="relay-rig-postfix-"))
            link = self.workdir / "postfix"
            if not link.exists():
                link.symlink_to(root)
            self._private_root = True
        root.chmod(0o755)
        return root

    def _prepare_tree(self) -> None:
        lay = self.layout
        make_queue_tree(lay)
        lay.maildirs.mkdir(exist_ok=True)
        os.chown(lay.maildirs, self.settings.mailbox_uid, self.settings.mailbox_gid)
        lay.maildirs.chmod(0o755)
        if self.settings.tls and not (lay.config / f"{names.MX_HOST}.crt").exists():
            self_signed(lay.config, names.MX_HOST)

    def _write_config(self) -> None:
        c = self.layout.config
        _atomic_write(c / "main.cf", cf.main_cf(self.layout, self.settings))
        _atomic_write(c / "master.cf", cf.master_cf(self.settings))
        _atomic_write(c / "mailboxes.regexp", cf.mailboxes(self.settings.domains))
        _atomic_write(c / "accept_unverified", cf.accept_unverified())
        self._write_tables()

    def _write_tables(self) -> None:
        c = self.layout.config
        _atomic_write(c / "transport", cf.transport(self.settings))
        _atomic_write(c / "defer", cf.defer_table(self.settings.deferred))

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        binary = which(tool)
        if binary is None:
            raise RuntimeError(f"{tool} not installed: run .ci/deps (Debian package postfix)")
        command = [binary, "-c", str(self.layout.config), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
        return done

    def _rcpt_code(self, address: str) -> int | None:
        try:
            return self.rcpt_reply(address)[0]
        except (OSError, smtplib.SMTPException):
            return None


def _atomic_write(path: Path, text: str) -> None:
    """Replace `path` atomically, dated a few seconds back.

    Postfix refuses to read a configuration file or table younger than one
    second: it sleeps 300 ms at a time "to let it cool down" (dict_load_file).
    Backdating skips that wait; the time still differs from the previous
    version's, so Postfix still sees the change.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    mtime = time.time_ns() - 5_000_000_000
    os.utime(tmp, ns=(mtime, mtime))
    tmp.replace(path)


def _delivered_to(message: bytes) -> str | None:
    """The address in the first Delivered-To header of a raw message."""
    for line in message.split(b"\n", 200):
        if not line.strip():
            return None  # end of the header section
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"delivered-to":
            return value.strip().decode("utf-8", "replace").lower()
    return None


def _searchable_by_others(path: Path) -> bool:
    path = path.resolve()
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))
