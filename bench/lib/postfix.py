"""A private Postfix that relays everything it is given to one smtp-sink (the comparison).

Same technique as the test rig (tests/rig/postfix.py): our own main.cf/master.cf in
`<root>/conf`, the queue tree created by hand, `master -s -c <root>/conf` run as root in the
foreground. Unlike the rig's receiving Postfix it keeps Postfix's performance defaults
(process limits, in_flow_delay, connection cache, destination concurrency 20): it only
changes names, paths, loopback and where mail goes (transport_maps -> smtp:[127.0.0.1]:PORT,
no DNS, no TLS: smtp-sink offers no STARTTLS).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.lib.procs import wait_for
from tests.rig.postfix_config import CORE_SERVICES, DAEMON_DIR, Layout, private_instance
from tests.rig.postfix_master import make_queue_tree, stop_master
from tests.rig.tools import end_watchdog, free_port, port_open, tail, watchdog


class PostfixRelay:
    """Postfix on 127.0.0.1:<port> relaying `domain` to 127.0.0.1:<sink_port>."""

    def __init__(self, root: Path, sink_port: int, domain: str) -> None:
        self.layout = Layout(root)
        self.port = free_port()
        self.sink_port = sink_port
        self.domain = domain
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def main_cf(self) -> dict[str, str]:
        refuse = "error:5.7.1 the benchmark relays only to its sink"
        return private_instance(self.layout, "postfix-bench.example.net", refuse) | {
            "relay_domains": self.domain,
            "local_transport": "error:5.7.1 no local delivery",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
        }

    def master_cf(self) -> str:
        services = [f"127.0.0.1:{self.port} inet n - n - - smtpd", *CORE_SERVICES]
        return "\n".join(services) + "\n"

    def start(self) -> PostfixRelay:
        master = Path(DAEMON_DIR) / "master"
        if not master.exists():
            raise SystemExit(f"{master} missing: apt-get install postfix")
        if os.geteuid() != 0:
            raise SystemExit("the Postfix comparison needs root (the master runs only as root)")
        self._prepare_tree()
        c = self.layout.config
        c.joinpath("main.cf").write_text("".join(f"{k} = {v}\n" for k, v in self.main_cf().items()))
        c.joinpath("master.cf").write_text(self.master_cf())
        c.joinpath("transport").write_text(f"{self.domain}\tsmtp:[127.0.0.1]:{self.sink_port}\n")
        for name in ("main.cf", "master.cf", "transport"):  # Postfix waits for "cool" files
            old = c.joinpath(name).stat().st_mtime - 5
            os.utime(c / name, (old, old))
        env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
        self._proc = subprocess.Popen(
            [str(master), "-s", "-c", str(c)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._watchdog = watchdog(self._proc.pid)  # SIGTERM to the master if we are killed

        def alive() -> bool:
            return self._proc is not None and self._proc.poll() is None

        def listening() -> bool:
            return not alive() or port_open(self.port)

        if not wait_for(listening, 20, 0.05) or not alive():
            self.stop()
            raise RuntimeError(f"postfix did not start:\n{tail(self.layout.log)}")
        return self

    def stop(self) -> None:
        end_watchdog(self._watchdog)
        self._watchdog = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        stop_master(proc)

    def log_tail(self) -> str:
        return tail(self.layout.log)

    def _prepare_tree(self) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.layout.root.chmod(0o755)
        make_queue_tree(self.layout)
