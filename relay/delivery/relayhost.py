"""The relayhost (smarthost): all mail goes through one server, as with Postfix's `relayhost`.

`[delivery] relayhost = "host:port"` (a name, an IPv4 address or `[IPv6]`; port 25 when left
out). There is no MX lookup: the host's own A/AAAA records, as Postfix's `[host]:port` form.
AUTH (RFC 4954) uses the user and password of the file named by `relayhost_auth`, and only
over TLS: with AUTH, STARTTLS is required whatever `relayhost_tls` says, so credentials are
never sent in clear. Every setting is checked when `relay serve` starts, naming the key.
"""

import ipaddress
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from relay.errors import SetupError

TLS_MODES = ("may", "encrypt", "verify", "wrapper")
_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+))(?::(?P<port>[0-9]+))?$"
)


@dataclass(frozen=True)
class Relayhost:
    host: str  # a name or an IP address (no brackets)
    port: int
    tls: str  # one of TLS_MODES; "may" never goes with a login
    login: tuple[str, str] | None = field(default=None, repr=False)  # never in a repr or log

    @property
    def is_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def tls_required(self) -> bool:
        return self.tls in ("encrypt", "verify")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def relayhost_from(relayhost: str, auth_file: str, tls: str, base: Path) -> Relayhost | None:
    """The `[delivery] relayhost*` settings, checked; None when mail goes to the MX hosts.
    `base`: the directory of relay.toml (a relative auth file path is relative to it)."""
    if not relayhost.strip():
        if auth_file:
            raise SetupError("delivery.relayhost_auth is set but delivery.relayhost is empty")
        return None
    host, port = parse_host_port(relayhost)
    if tls not in TLS_MODES:
        raise SetupError(f"delivery.relayhost_tls: {tls!r} is not one of {', '.join(TLS_MODES)}")
    login = read_login(base / auth_file) if auth_file else None
    if login is not None and tls == "may":
        tls = "encrypt"  # never send credentials in clear (RFC 4954 4: SHOULD use TLS)
    return Relayhost(host, port, tls, login)


def parse_host_port(text: str) -> tuple[str, int]:
    match = _HOST_PORT.match(text.strip())
    port = int(match.group("port") or 25) if match else 0
    if match is None or not 0 < port < 65536:
        raise SetupError(
            f"delivery.relayhost: {text!r} is not host:port (e.g. 'smtp.example.net:587',"
            " '127.0.0.1:2526', '[::1]:25')"
        )
    if match.group("v6"):
        try:
            ipaddress.IPv6Address(match.group("v6"))
        except ValueError:
            raise SetupError(f"delivery.relayhost: {text!r}: not an IPv6 address") from None
        return match.group("v6"), port
    return match.group("host").lower().rstrip("."), port


def read_login(path: Path) -> tuple[str, str]:
    """`user:password` from the first line of `path`, which only its owner may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"delivery.relayhost_auth: cannot read {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SetupError(
            f"delivery.relayhost_auth: {path} holds a password but others may read it;"
            f" run `chmod 600 {path}`"
        )
    user, sep, password = (text.splitlines() or [""])[0].partition(":")
    if not sep or not user or not password:
        raise SetupError(f"delivery.relayhost_auth: {path} must hold one line 'user:password'")
    return user, password
