"""OpenDKIM (Debian `opendkim`) as Postfix's milter: the comparison that signs like the relay.

One multi-threaded `opendkim -f` process on 127.0.0.1:<port>, signing every message from an
internal host (loopback) for `domain` with an RSA-2048 key (as the relay's), relaxed/relaxed,
oversigning the headers the relay oversigns (relay/dkim_sign.py). Its CPU counts to the
"Postfix + OpenDKIM" column.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.lib.procs import stop_process, wait_for
from relay.keys import new_dkim_key, public_key_b64
from tests.rig.tools import end_watchdog, free_port, port_open, tail, watchdog, which

SELECTOR = "bench"
# relay/dkim_sign.py's OVERSIGNED and SIGNED_IF_PRESENT. OpenDKIM's own default list lacks
# Message-ID and the MIME headers, and an oversigned header that is not signed breaks the
# signature (it asserts the header's absence).
OVERSIGN = "From,To,Subject,Date,Message-ID,Reply-To,List-Unsubscribe,List-Unsubscribe-Post"
SIGN = OVERSIGN + (
    ",Cc,Sender,MIME-Version,Content-Type,Content-Transfer-Encoding,Content-Language"
    ",In-Reply-To,References"
)


class OpenDkim:
    """`root` holds its log. Its configuration and key live in a directory of their own
    below /run: opendkim refuses a configuration file below a world-writable directory
    such as /tmp, sticky bit or not."""

    def __init__(self, root: Path, domain: str) -> None:
        self.root = root
        self.home: Path | None = None
        self.domain = domain
        self.port = free_port()
        self.key_pem = new_dkim_key()
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def milter(self) -> str:
        """Postfix's smtpd_milters value."""
        return f"inet:127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log(self) -> Path:
        return self.root / "opendkim.log"

    def txt_record(self) -> bytes:
        """The DKIM key record (RFC 6376 3.6.1), for verifying what OpenDKIM signed."""
        return f"v=DKIM1; k=rsa; p={public_key_b64(self.key_pem)}".encode()

    def config(self) -> str:
        assert self.home is not None
        return "".join(
            f"{k} {v}\n"
            for k, v in {
                "Mode": "s",
                "Domain": self.domain,
                "Selector": SELECTOR,
                "KeyFile": self.home / "key.pem",
                "Socket": f"inet:{self.port}@127.0.0.1",
                "InternalHosts": "127.0.0.1",
                "Canonicalization": "relaxed/relaxed",
                "SignatureAlgorithm": "rsa-sha256",
                "SignHeaders": SIGN,
                "OversignHeaders": OVERSIGN,
                "Syslog": "no",
                "Background": "no",
                "UserID": "opendkim",  # it refuses a world-readable key; the key is its own
                "PidFile": self.home / "opendkim.pid",
            }.items()
        )

    def start(self) -> OpenDkim:
        binary = which("opendkim")
        if binary is None:
            raise SystemExit("opendkim not found: apt-get install opendkim")
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = Path(tempfile.mkdtemp(prefix="relay-bench-opendkim-", dir="/run"))
        key = self.home / "key.pem"
        key.write_text(self.key_pem)
        key.chmod(0o600)
        user = pwd.getpwnam("opendkim")
        os.chown(key, user.pw_uid, user.pw_gid)
        os.chown(self.home, user.pw_uid, user.pw_gid)  # its pid file
        conf = self.home / "opendkim.conf"
        conf.write_text(self.config())
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [binary, "-f", "-x", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # It sets its own user id, which clears PR_SET_PDEATHSIG: a watchdog stops it instead
        # when the benchmark is killed.
        self._watchdog = watchdog(self._proc.pid)

        def up() -> bool:
            return self._proc is None or self._proc.poll() is not None or port_open(self.port)

        if not wait_for(up, 20, 0.05) or self._proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"opendkim did not start:\n{tail(self.log)}")
        return self

    def stop(self) -> None:
        end_watchdog(self._watchdog)
        self._watchdog = None
        proc, self._proc = self._proc, None
        stop_process(proc, timeout=10)
        home, self.home = self.home, None
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
