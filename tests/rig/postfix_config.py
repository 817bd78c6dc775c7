"""main.cf, master.cf and lookup tables of the private Postfix rig (pure text).

Every table is `texthash:` or `regexp:` so that nothing needs `postmap`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.rig import names

DAEMON_DIR = "/usr/lib/postfix/sbin"
DEFAULT_DEFER_REPLY = "450 4.2.0 Mailbox busy, try again later"


@dataclass(frozen=True)
class Layout:
    """Where one Postfix instance keeps its files."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "conf"

    @property
    def queue(self) -> Path:
        return self.root / "spool"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def maildirs(self) -> Path:
        return self.root / "maildirs"

    @property
    def log(self) -> Path:
        return self.root / "postfix.log"


@dataclass
class Settings:
    """What the tests may choose about one instance."""

    port: int
    size_hop_port: int  # next-hop smtpd with a tiny size limit (TOO_BIG)
    gateway_hop_port: int  # next-hop smtpd that knows no users (ACCEPT_ALL_DOMAIN)
    bounce_relay_port: int
    bounce_domain: str = names.BOUNCE_DOMAIN
    # Also routed to the relay inbound: the shop's custom return path (a CNAME of the bounce
    # domain in tests/dns), where DSNs to its envelope senders go.
    extra_relay_domains: tuple[str, ...] = (names.SHOP_RETURN_PATH,)
    domains: tuple[str, ...] = names.POSTFIX_DOMAINS
    mailbox_uid: int = 65534
    mailbox_gid: int = 65534
    too_big_limit: int = 1024
    tls: bool = True
    deferred: dict[str, str] = field(default_factory=lambda: {names.BUSY: DEFAULT_DEFER_REPLY})
    main_cf: Mapping[str, str] = field(default_factory=dict)  # extra/overriding parameters


def private_instance(layout: Layout, hostname: str, refuse: str) -> dict[str, str]:
    """main.cf parameters of every private Postfix here (this rig, bench/relay's comparison):
    its own tree and log, a name that is never the machine's, loopback only, nothing local,
    and nothing leaves except by transport_maps (anything else is refused with `refuse`)."""
    return {
        "compatibility_level": "3.6",
        "queue_directory": str(layout.queue),
        "data_directory": str(layout.data),
        "command_directory": "/usr/sbin",
        "daemon_directory": DAEMON_DIR,
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "maillog_file": str(layout.log),
        "maillog_file_prefixes": str(layout.root),
        "myhostname": hostname,
        "mydomain": "example.net",
        "myorigin": "$myhostname",
        "mydestination": "",
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        "mynetworks": "127.0.0.0/8",
        "smtpd_banner": "$myhostname ESMTP",
        "alias_maps": "",
        "alias_database": "",
        "local_recipient_maps": "",
        "default_transport": refuse,
        "relay_transport": refuse,
        "transport_maps": f"texthash:{layout.config}/transport",
        "smtp_dns_support_level": "disabled",
        "smtp_host_lookup": "native",
        "smtpd_peername_lookup": "no",
        "message_size_limit": str(64 * 1024 * 1024),
        "biff": "no",
        "readme_directory": "no",
    }


def main_cf(layout: Layout, s: Settings) -> str:
    c = layout.config
    refuse = "error:5.7.1 the rig delivers only to loopback test domains"
    params = private_instance(layout, names.MX_HOST, refuse) | {
        "local_transport": "error:5.1.1 local delivery is off in the rig",
        "relay_domains": " ".join((s.bounce_domain, *s.extra_relay_domains)),
        "relay_recipient_maps": "",
        "smtp_connection_cache_on_demand": "no",
        "smtp_tls_security_level": "may",
        # Mailboxes.
        "virtual_mailbox_domains": " ".join(s.domains),
        "virtual_mailbox_maps": f"regexp:{c}/mailboxes.regexp",
        "virtual_mailbox_base": str(layout.maildirs),
        "virtual_uid_maps": f"static:{s.mailbox_uid}",
        "virtual_gid_maps": f"static:{s.mailbox_gid}",
        "virtual_minimum_uid": "100",
        "virtual_mailbox_limit": "0",
        "mailbox_size_limit": "0",
        "unknown_virtual_mailbox_reject_code": "550",
        # SMTP server policy.
        "smtpd_relay_restrictions": "reject_unauth_destination",
        "smtpd_recipient_restrictions": (
            f"check_recipient_access texthash:{c}/defer, "
            f"check_recipient_access texthash:{c}/accept_unverified, "
            "reject_unlisted_recipient, permit"
        ),
        "smtpd_reject_unlisted_recipient": "no",  # explicit in smtpd_recipient_restrictions
        "smtpd_error_sleep_time": "0",
        "smtpd_soft_error_limit": "100",
        "smtpd_hard_error_limit": "1000",
        "in_flow_delay": "0",
        # Fast queue for tests.
        "queue_run_delay": "1s",
        "minimal_backoff_time": "1s",
        "maximal_backoff_time": "2s",
        "maximal_queue_lifetime": "5m",
        "bounce_queue_lifetime": "5m",
        "delay_warning_time": "0",
        "append_dot_mydomain": "no",
    }
    if s.tls:
        params |= {
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": f"{c}/{names.MX_HOST}.crt",
            "smtpd_tls_key_file": f"{c}/{names.MX_HOST}.key",
        }
    params |= dict(s.main_cf)
    return "".join(f"{k} = {v}\n" for k, v in params.items())


def _next_hop(port: int, *options: str) -> list[str]:
    """An smtpd behind the rig's own smtp client: it never keeps mail (discards it).

    It greets as mx2.example.net; with myhostname in the greeting the smtp
    client would refuse it as a mail loop.
    """
    return [
        f"127.0.0.1:{port} inet n - n - - smtpd",
        f"  -o myhostname={names.MX_HOST_2}",
        "  -o smtpd_recipient_restrictions=reject_unlisted_recipient,permit",
        "  -o content_filter=discard:kept-by-no-one",
        "  -o smtpd_tls_security_level=none",
        *(f"  -o {o}" for o in options),
    ]


# The daemons every private Postfix here needs (master.cf(5) columns: service type private
# unpriv chroot wakeup maxproc command). Also used by bench/lib/postfix.py.
CORE_SERVICES = (
    "pickup    unix  n - n 60 1 pickup",  # postqueue -f wants it
    "cleanup   unix  n - n - 0 cleanup",
    "qmgr      unix  n - n 300 1 qmgr",
    "rewrite   unix  - - n - - trivial-rewrite",
    "bounce    unix  - - n - 0 bounce",
    "defer     unix  - - n - 0 bounce",
    "trace     unix  - - n - 0 bounce",
    "verify    unix  - - n - 1 verify",
    "flush     unix  n - n 1000? 0 flush",
    "proxymap  unix  - - n - - proxymap",
    "smtp      unix  - - n - - smtp",
    "relay     unix  - - n - - smtp",
    "showq     unix  n - n - - showq",
    "error     unix  - - n - - error",
    "retry     unix  - - n - - error",
    "discard   unix  - - n - - discard",
    "anvil     unix  - - n - 1 anvil",
    "scache    unix  - - n - 1 scache",
    "postlog   unix-dgram n - n - 1 postlogd",
)


def master_cf(s: Settings) -> str:
    services = [
        # service       type  private unpriv chroot wakeup maxproc command
        f"127.0.0.1:{s.port} inet n - n - - smtpd",
        "  -o max_use=1",  # each connection sees the current defer table
        *_next_hop(s.size_hop_port, f"message_size_limit={s.too_big_limit}"),
        # mailboxes.regexp lists no user in ACCEPT_ALL_DOMAIN: this hop says 550 5.1.1.
        *_next_hop(s.gateway_hop_port),
        *CORE_SERVICES,
        "tlsmgr    unix  - - n 1000? 1 tlsmgr",
        "virtual   unix  - n n - - virtual",
    ]
    return "\n".join(services) + "\n"


def transport(s: Settings) -> str:
    relay = f"smtp:[127.0.0.1]:{s.bounce_relay_port}"
    rows = [(d, relay) for d in (s.bounce_domain, *s.extra_relay_domains)]
    rows += [
        (names.MAILBOX_FULL, "error:5.2.2 Mailbox full"),
        (names.TOO_BIG, f"smtp:[127.0.0.1]:{s.size_hop_port}"),
        (names.ACCEPT_ALL_DOMAIN, f"smtp:[127.0.0.1]:{s.gateway_hop_port}"),
    ]
    return "".join(f"{k}\t{v}\n" for k, v in rows)


def defer_table(deferred: Mapping[str, str]) -> str:
    return "".join(f"{address.lower()}\t{reply}\n" for address, reply in sorted(deferred.items()))


def accept_unverified() -> str:
    """Recipients accepted at RCPT without the mailbox check (they bounce after DATA).

    MAILBOX_FULL must be here: smtpd refuses at RCPT an address whose transport is
    `error:`, as part of reject_unlisted_recipient.
    """
    return f"{names.ACCEPT_ALL_DOMAIN}\tOK\n{names.MAILBOX_FULL}\tOK\n"


def mailboxes(domains: Iterable[str]) -> str:
    """Any local part is a mailbox, except unknown*/nosuch* and in accept-all.example.com.

    The virtual delivery agent refuses `$1` substitutions from regexp tables, so
    each domain has one maildir (`<domain>/`); PostfixRig.maildir_messages picks
    a recipient's messages by the Delivered-To header Postfix adds.
    """
    domains = tuple(domains)
    prefixes = "|".join(names.UNKNOWN_PREFIXES)
    rows = [f"if !/^({prefixes})/"]
    rows += [
        f"/^[a-z0-9_=+-][a-z0-9._=+-]*@{_regex_literal(d)}$/\t{d}/"
        for d in domains
        if d != names.ACCEPT_ALL_DOMAIN
    ]
    rows.append("endif")
    # UTF-8 local parts (RFC 6531) are mailboxes only where named: Postfix takes them with
    # SMTPUTF8 (smtputf8_enable, on by default), as bytes in this regexp.
    rows += [
        f"/^{local}@{_regex_literal(domain)}$/\t{domain}/"
        for local, _, domain in (a.rpartition("@") for a in names.UTF8_MAILBOXES)
        if domain in domains
    ]
    return "\n".join(rows) + "\n"


def _regex_literal(domain: str) -> str:
    """A domain name as a POSIX extended regex literal (only dots are special in one)."""
    if not all(c.isalnum() or c in ".-" for c in domain):
        raise ValueError(f"not a plain domain name: {domain!r}")
    return domain.replace(".", "\\.")
