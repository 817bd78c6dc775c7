"""The MTAs under test, each in its own Debian chroot: packages, configuration, queue control.

Every MTA plays the customer's MX "mx.example.org" on 127.0.0.1:25: it relays for the lab's
domains and for loopback clients, hands example.org to the mailbox server
store.example.org (127.0.0.2), looks everything else up in the lab's DNS, and sends its
reports to the relay's bounce domain (127.0.0.4). Queue times are cut to minutes: a delay
notice after about one minute, the give-up after about three.
"""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

RELAY_DOMAINS = ("example.org", "example.net", "no-such-domain.example.com")
HOSTNAME = "mx.example.org"


class Mta:
    name = ""
    packages: tuple[str, ...] = ()

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, *command: str, check: bool = True) -> str:
        done = subprocess.run(
            ["chroot", str(self.root), *command], capture_output=True, text=True, check=False
        )
        if check and done.returncode:
            raise RuntimeError(f"{' '.join(command)}: {done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def daemon(self, *command: str, log: str = "") -> None:
        """Start a daemon that forks into the background (its pipes must not be ours)."""
        out = (self.root / log.lstrip("/")).open("ab") if log else subprocess.DEVNULL
        subprocess.run(
            ["chroot", str(self.root), *command],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )

    def foreground(self, *command: str, log: str) -> subprocess.Popen:
        """Start a daemon kept in the foreground, its output going to `log` in the chroot."""
        out = (self.root / log.lstrip("/")).open("ab")
        return subprocess.Popen(
            ["chroot", str(self.root), *command],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def read(self, path: str) -> str:
        target = self.root / path.lstrip("/")
        return target.read_text(errors="replace") if target.exists() else ""

    def write(self, path: str, text: str) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))

    def configure(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def kick(self) -> None:
        """Try every queued message now."""

    def queue_empty(self) -> bool:
        raise NotImplementedError

    def log(self) -> str:
        return self.read("/var/log/lab-syslog")


class Postfix(Mta):
    name = "postfix"
    packages = ("postfix",)

    def configure(self) -> None:
        self.write(
            "/etc/postfix/main.cf",
            f"""
            compatibility_level = 3.6
            myhostname = {HOSTNAME}
            mydomain = example.org
            myorigin = $myhostname
            mydestination = localhost
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            relay_domains = {" ".join(RELAY_DOMAINS)}
            transport_maps = inline:{{example.org=smtp:[store.example.org]:25}}
            smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
            smtputf8_enable = yes
            smtp_tls_security_level = none
            smtpd_tls_security_level = none
            delay_warning_time = 1m
            maximal_queue_lifetime = 3m
            bounce_queue_lifetime = 3m
            queue_run_delay = 15s
            minimal_backoff_time = 15s
            maximal_backoff_time = 30s
            maillog_file = /var/log/postfix.log
            """,
        )
        self.run("postconf", "-F", "*/*/chroot = n")
        self.run("postfix", "check", check=False)
        self.run("postsuper", "-d", "ALL", check=False)

    def start(self) -> None:
        self.daemon("postfix", "start")

    def kick(self) -> None:
        self.run("postqueue", "-f", check=False)

    def queue_empty(self) -> bool:
        return not self.run("postqueue", "-j", check=False).strip()

    def log(self) -> str:
        return self.read("/var/log/postfix.log")


class Exim(Mta):
    """Exim 4 with a configuration of its own (/etc/exim4/exim4.conf wins over Debian's)."""

    name = "exim"
    packages = ("exim4-daemon-heavy", "exim4-config")

    def configure(self) -> None:
        self.write(
            "/etc/exim4/exim4.conf",
            f"""
            primary_hostname = {HOSTNAME}
            qualify_domain = example.org
            domainlist local_domains = localhost
            domainlist relay_to_domains = {" : ".join(RELAY_DOMAINS)}
            hostlist relay_from_hosts = 127.0.0.0/8
            local_interfaces = 127.0.0.1
            disable_ipv6 = true
            acl_smtp_rcpt = acl_check_rcpt
            dsn_advertise_hosts = *
            smtputf8_advertise_hosts = *
            tls_advertise_hosts =
            delay_warning = 1m:1h
            exim_user = Debian-exim
            exim_group = Debian-exim
            never_users = root
            spool_directory = /var/spool/exim4
            log_file_path = /var/log/exim4/%slog

            begin acl
            acl_check_rcpt:
              accept domains = +relay_to_domains
              accept hosts = +relay_from_hosts
              deny message = relay not permitted

            begin routers
            store:
              driver = manualroute
              domains = example.org
              route_list = * store.example.org
              transport = remote_smtp
              no_more
            dnslookup:
              driver = dnslookup
              domains = ! +local_domains
              transport = remote_smtp
              ignore_target_hosts = 0.0.0.0
              no_more

            begin transports
            remote_smtp:
              driver = smtp
              hosts_avoid_tls = *

            begin retry
            *  *  F,3m,15s
            """,
        )
        for spool in ("input", "msglog", "db"):
            for entry in (self.root / "var/spool/exim4" / spool).glob("*"):
                entry.unlink()

    def start(self) -> None:
        # -bdf: stay in the foreground (a daemon whose parent is PID 1 does so anyway).
        self.process = self.foreground("/usr/sbin/exim4", "-bdf", "-q15s", log="/var/log/exim.out")

    def kick(self) -> None:
        self.run("/usr/sbin/exim4", "-qff", check=False)

    def queue_empty(self) -> bool:
        return self.run("/usr/sbin/exim4", "-bpc", check=False).strip() == "0"

    def log(self) -> str:
        return self.read("/var/log/exim4/mainlog")


class OpenSmtpd(Mta):
    name = "opensmtpd"
    packages = ("opensmtpd",)

    def configure(self) -> None:
        domains = ", ".join(f'"{d}"' for d in RELAY_DOMAINS[1:])
        self.write(
            "/etc/smtpd.conf",
            f"""
            queue ttl 3m
            bounce warn-interval 1m
            listen on 127.0.0.1 hostname {HOSTNAME}
            action "store" relay host smtp+notls://store.example.org:25
            action "out" relay
            match from any for domain "example.org" action "store"
            match from any for domain {{ {domains} }} action "out"
            match from local for any action "out"
            """,
        )
        for spool in ("queue", "incoming", "temporary", "purge", "corrupt"):
            for entry in (self.root / "var/spool/smtpd" / spool).glob("*"):
                subprocess.run(["rm", "-rf", str(entry)], check=True)

    def start(self) -> None:
        self.process = self.foreground("smtpd", "-d", log="/var/log/smtpd.log")

    def kick(self) -> None:
        self.run("smtpctl", "schedule", "all", check=False)

    def queue_empty(self) -> bool:
        return not self.run("smtpctl", "show", "queue", check=False).strip()

    def log(self) -> str:
        return self.read("/var/log/smtpd.log")


class Sendmail(Mta):
    """Sendmail 8 with a .mc of its own; Debian's build has no SMTPUTF8 (EAI) support."""

    name = "sendmail"
    packages = ("sendmail-bin", "sendmail-cf", "m4")

    def configure(self) -> None:
        self.write(
            "/etc/mail/lab.mc",
            f"""
            divert(-1)dnl
            divert(0)dnl
            define(`_USE_ETC_MAIL_')dnl
            include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
            VERSIONID(`relay bounce lab')dnl
            OSTYPE(`debian')dnl
            define(`confDOMAIN_NAME', `{HOSTNAME}')dnl
            define(`confTO_QUEUEWARN', `1m')dnl
            define(`confTO_QUEUERETURN', `3m')dnl
            define(`confMIN_QUEUE_AGE', `0')dnl
            define(`confPRIVACY_FLAGS', `authwarnings')dnl
            define(`confTRUSTED_USER', `smmta')dnl
            undefine(`confHOST_STATUS_DIRECTORY')dnl
            FEATURE(`access_db', `hash -o -T<TMPF> /etc/mail/access')dnl
            FEATURE(`mailertable', `hash -o /etc/mail/mailertable')dnl
            DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1')dnl
            MAILER(`local')dnl
            MAILER(`smtp')dnl
            """,
        )
        relays = "".join(f"To:{d} RELAY\n" for d in RELAY_DOMAINS)
        self.write("/etc/mail/access", f"Connect:127 RELAY\n{relays}")
        self.write("/etc/mail/mailertable", "example.org esmtp:[store.example.org]\n")
        self.run("sh", "-c", "m4 /etc/mail/lab.mc > /etc/mail/sendmail.cf")
        cf = "/etc/mail/sendmail.cf"  # its TrustedUser owns /etc/mail (Debian's layout)
        for table in ("access", "mailertable"):
            self.run("sh", "-c", f"makemap -C {cf} hash /etc/mail/{table} < /etc/mail/{table}")
        for entry in (self.root / "var/spool/mqueue").glob("*"):
            entry.unlink()

    def start(self) -> None:
        self.process = self.foreground(
            "/usr/sbin/sendmail", "-bD", "-q15s", log="/var/log/sendmail.out"
        )

    def kick(self) -> None:
        self.run("/usr/sbin/sendmail", "-q", check=False)

    def queue_empty(self) -> bool:
        return "is empty" in self.run("/usr/sbin/sendmail", "-bp", check=False)


class Courier(Mta):
    name = "courier"
    packages = ("courier-mta",)

    def configure(self) -> None:
        settings = {
            "me": HOSTNAME,
            "locals": "localhost",
            "esmtpacceptmailfor": "\n".join(RELAY_DOMAINS),
            "esmtproutes": "example.org: store.example.org",
            "smtpaccess/default": "127\tallow,RELAYCLIENT",
            "queuetime": "3m",
            "warntime": "1m",
            "retryalpha": "15s",
            "retrybeta": "3",
            "retrygamma": "30s",
            "retrymaxdelta": "1",
            "esmtpdelay": "5",
        }
        for name, value in settings.items():
            self.write(f"/etc/courier/{name}", value + "\n")
        esmtpd = self.root / "etc/courier/esmtpd"
        text = esmtpd.read_text()
        for key, value in (("ADDRESS", "127.0.0.1"), ("TARPIT", "0"), ("BOFHCHECKDNS", "0")):
            lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key}=")]
            text = "\n".join([*lines, f"{key}={value}"]) + "\n"
        esmtpd.write_text(text)
        self.run("makesmtpaccess")
        self.run("mkdir", "-p", "/run/courier")
        self.run("chown", "courier:courier", "/run/courier")
        for entry in (self.root / "var/lib/courier/msgs").glob("*"):
            subprocess.run(["rm", "-rf", str(entry)], check=True)
        for entry in (self.root / "var/lib/courier/msgq").glob("*"):
            subprocess.run(["rm", "-rf", str(entry)], check=True)

    def start(self) -> None:
        self.daemon("courier", "start")
        self.daemon("esmtpd", "start")

    def kick(self) -> None:
        self.run("courier", "flush", check=False)

    def queue_empty(self) -> bool:
        return (
            "0 messages" in self.run("mailq", check=False)
            or not self.run("sh", "-c", "ls /var/lib/courier/msgq", check=False).strip()
        )


MTAS: dict[str, type[Mta]] = {m.name: m for m in (Postfix, Exim, OpenSmtpd, Sendmail, Courier)}


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"nothing listens on {host}:{port}")
