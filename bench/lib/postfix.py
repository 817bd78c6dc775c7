"""A private Postfix that relays everything it is given to one smtp-sink (the comparison).

Same technique as the test rig (tests/rig/postfix.py): our own main.cf/master.cf in
`<root>/conf`, the queue tree created by hand, `master -s -c <root>/conf` run as root in the
foreground. Unlike the rig's receiving Postfix it keeps Postfix's performance defaults
(process limits, in_flow_delay, connection cache, destination concurrency 20): it only
changes names, paths, loopback and where mail goes (transport_maps -> smtp:[127.0.0.1]:PORT,
no DNS; smtp-sink offers no STARTTLS, so delivery is plain for Postfix and the relay alike).

Submission as the shops do it: STARTTLS (RSA-2048 certificate, as the relay's dev
certificate) and AUTH PLAIN/LOGIN through Cyrus SASL with a `sasldb` written by
`saslpasswd2` (Debian `sasl2-bin`); AUTH only over TLS. Clients on 127.0.0.0/8 may still send
without either (smtp-source, which speaks neither), as the relay's trusted_clients.

`milter`: an OpenDKIM address (`inet:127.0.0.1:PORT`) that signs every message.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from bench.lib.procs import wait_for
from relay.keys import dev_certificate
from tests.rig.postfix_config import CORE_SERVICES, DAEMON_DIR, Layout, private_instance
from tests.rig.postfix_master import make_queue_tree, stop_master
from tests.rig.tools import end_watchdog, free_port, port_open, tail, watchdog

HOSTNAME = "postfix-bench.example.net"


class PostfixRelay:
    """Postfix on 127.0.0.1:<port> relaying `domain` to 127.0.0.1:<sink_port>."""

    def __init__(
        self,
        root: Path,
        sink_port: int,
        domain: str,
        *,
        sasl: tuple[str, str] | None = None,  # (user, password): STARTTLS + AUTH offered
        milter: str | None = None,
        extra_routes: dict[str, int] | None = None,  # domain -> another sink port
    ) -> None:
        self.layout = Layout(root)
        self.port = free_port()
        self.sink_port = sink_port
        self.domain = domain
        self.sasl = sasl
        self.milter = milter
        self.routes = {domain: sink_port, **(extra_routes or {})}
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
        params = private_instance(self.layout, HOSTNAME, refuse) | {
            "relay_domains": " ".join(self.routes),
            "local_transport": "error:5.7.1 no local delivery",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
        }
        c = self.layout.config
        if self.sasl is not None:
            params |= {
                "smtpd_tls_security_level": "may",
                "smtpd_tls_cert_file": f"{c}/server.crt",
                "smtpd_tls_key_file": f"{c}/server.key",
                "smtpd_tls_auth_only": "yes",
                "smtpd_sasl_auth_enable": "yes",
                "smtpd_sasl_type": "cyrus",
                "smtpd_sasl_path": "smtpd",
                "cyrus_sasl_config_path": str(c),
                "smtpd_sasl_local_domain": HOSTNAME,
            }
        if self.milter is not None:
            params |= {
                "smtpd_milters": self.milter,
                "milter_default_action": "tempfail",  # unsigned mail never leaves
            }
        return params

    def master_cf(self) -> str:
        services = [f"127.0.0.1:{self.port} inet n - n - - smtpd", *CORE_SERVICES]
        if self.sasl is not None:
            services.append("tlsmgr    unix  - - n 1000? 1 tlsmgr")
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
        routes = "".join(f"{d}\tsmtp:[127.0.0.1]:{p}\n" for d, p in self.routes.items())
        c.joinpath("transport").write_text(routes)
        if self.sasl is not None:
            self._write_tls_and_sasl()
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

    def _write_tls_and_sasl(self) -> None:
        """The certificate, Cyrus SASL's smtpd.conf and the sasldb with the one user."""
        assert self.sasl is not None
        c = self.layout.config
        cert, key = dev_certificate(HOSTNAME)
        c.joinpath("server.crt").write_bytes(cert)
        c.joinpath("server.key").write_bytes(key)
        c.joinpath("server.key").chmod(0o600)
        saslpasswd2 = shutil.which("saslpasswd2")
        if saslpasswd2 is None:
            raise SystemExit("saslpasswd2 not found: apt-get install sasl2-bin")
        sasldb = c / "sasldb2"
        user, password = self.sasl
        subprocess.run(
            [saslpasswd2, "-c", "-p", "-f", str(sasldb), "-u", HOSTNAME, user],
            input=password.encode(),
            check=True,
            capture_output=True,
        )
        postfix = pwd.getpwnam("postfix")
        os.chown(sasldb, postfix.pw_uid, postfix.pw_gid)  # smtpd reads it as `postfix`
        sasldb.chmod(0o600)
        # Debian's Postfix reads smtpd.conf from <cyrus_sasl_config_path>/sasl.
        c.joinpath("sasl").mkdir(exist_ok=True)
        c.joinpath("sasl", "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            f"sasldb_path: {sasldb}\n"
            "mech_list: PLAIN LOGIN\n"
        )
