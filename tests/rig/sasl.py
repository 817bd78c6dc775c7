"""A Postfix rig that takes mail only from SASL-authenticated clients, and AUTH only over TLS:
a provider's outbound gateway, the relayhost of `[delivery] relayhost` tests.

Cyrus SASL with a private sasldb: Debian's Postfix reads `<config_directory>/sasl/smtpd.conf`
(it ignores cyrus_sasl_config_path), so both live in the rig's own config directory. smtpd
runs as the `postfix` user: the sasldb is root:postfix 0640.
"""

from __future__ import annotations

import grp
import os
import subprocess
from pathlib import Path

from tests.rig import names
from tests.rig.postfix import PostfixRig
from tests.rig.tools import require, which

DEBIAN_PACKAGE = "sasl2-bin"  # saslpasswd2; the sasldb plugin is libsasl2-modules-db

MAIN_CF = {
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_sasl_local_domain": names.MX_HOST,
    "smtpd_sasl_security_options": "noanonymous",
    "smtpd_tls_auth_only": "yes",  # AUTH is not even offered before STARTTLS
    "smtpd_tls_loglevel": "1",  # "... TLS connection established from ..." in the log
    "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
    "smtpd_recipient_restrictions": "permit_sasl_authenticated, reject",
}


def sasl_rig(workdir: Path, user: str, password: str) -> PostfixRig:
    """A started rig that knows one SASL user (PLAIN and LOGIN)."""
    require("saslpasswd2")
    rig = PostfixRig(workdir, main_cf=MAIN_CF)
    sasl = rig.layout.config / "sasl"
    sasl.mkdir(parents=True, exist_ok=True)
    db = sasl / "sasldb2"
    (sasl / "smtpd.conf").write_text(
        f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\n"
        f"sasldb_path: {db}\n"
    )
    command = [str(which("saslpasswd2")), "-p", "-c", "-f", str(db), "-u", names.MX_HOST, user]
    subprocess.run(command, input=password.encode(), check=True, timeout=30)
    os.chown(db, 0, grp.getgrnam("postfix").gr_gid)
    db.chmod(0o640)
    return rig.start()


def certificate(rig: PostfixRig) -> Path:
    """The rig's self-signed certificate (for mx1.example.net), to trust in a test."""
    return rig.layout.config / f"{names.MX_HOST}.crt"
