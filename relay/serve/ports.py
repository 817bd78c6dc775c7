"""One relay per listen address (SPEC, "What it promises").

The workers of one `relay serve` share their ports with SO_REUSEPORT, and Linux lets any
process of the same user join such a port: a second relay with another configuration would
silently get half of the shops' connections. So before anything listens, `relay serve` takes
an exclusive lock per address in the user's runtime directory (held until it exits; a wildcard
address locks its whole port), then binds each address once without SO_REUSEPORT, which fails
if anything at all listens there. Either way the error names the process that holds it.
"""

import contextlib
import errno
import fcntl
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

from config import Config
from relay.errors import SetupError

_WILDCARDS = {"", "0.0.0.0", "::", "*"}


def listen_addresses(config: Config) -> list[str]:
    return [
        *config.submission.listen,
        *config.submission.listen_tls,
        *config.inbound.listen,
        config.http.listen,
    ]


@contextlib.contextmanager
def claimed(config: Config) -> Iterator[None]:
    """Hold every listen address of `config` for the life of the block, or raise SetupError
    naming whoever has one."""
    directory = runtime_directory()
    held: list[int] = []
    note = f"{os.getpid()} {config.path}\n".encode()
    try:
        for address in listen_addresses(config):
            held += _lock(directory, address, note)
        for address in listen_addresses(config):
            _probe(address)
        yield
    finally:
        for fd in held:
            os.close(fd)


def runtime_directory() -> Path:
    """$XDG_RUNTIME_DIR/relay, else /tmp/relay-UID: private to this user (SO_REUSEPORT only
    joins sockets of one user, so the locks of one user are all that matter)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = (
        Path(base) / "relay" if base and Path(base).is_dir() else Path(f"/tmp/relay-{os.getuid()}")
    )
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SetupError(
            f"{path} must be a directory of user {os.getuid()} that only it can use (mode 0700);"
            f" it holds the locks that keep two relays off one port: remove it, or fix it"
            f" with `chown {os.getuid()} {path} && chmod 700 {path}`"
        )
    return path


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _lock(directory: Path, address: str, note: bytes) -> list[int]:
    """Exclusive lock on the address; shared on its port, exclusive for a wildcard address
    (which overlaps every address on that port). The exclusive lock file names its holder."""
    host, port = _split(address)
    wildcard = host in _WILDCARDS
    taken = [_take(directory / f"port-{port}.lock", wildcard, address, note)]
    if not wildcard:
        name = host.replace(":", "_")
        try:
            taken.append(_take(directory / f"tcp-{name}-{port}.lock", True, address, note))
        except SetupError:
            os.close(taken[0])
            raise
    return taken


def _take(path: Path, exclusive: bool, address: str, note: bytes) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _lock_holder(os.fstat(fd).st_ino)
        noted_pid, _, config = os.pread(fd, 4096, 0).decode(errors="replace").strip().partition(" ")
        os.close(fd)
        holder = describe(pid) if pid else "a process that is not visible here"
        if config and noted_pid == str(pid):  # the note of an earlier holder says nothing
            holder += f", config {config}"
        raise SetupError(
            f"{address} is in use by another relay: {holder}; stop it, or give this relay"
            " other addresses in relay.toml"
        ) from None
    if exclusive:
        os.ftruncate(fd, 0)
        os.pwrite(fd, note, 0)
    return fd


def _lock_holder(inode: int) -> int | None:
    """Who holds a lock on this inode, from /proc/locks (flock locks list the locker's pid)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "->" in fields or len(fields) < 6:
                continue  # a waiter, not a holder
            if fields[5].rsplit(":", 1)[-1] == str(inode):
                return int(fields[4])
    return None


def _probe(address: str) -> None:
    """Bind once without SO_REUSEPORT: fails when anything listens on the address."""
    host, port = _split(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # not ours to judge here: the listener reports it with its own error
            raise SetupError(
                f"{address} is in use by {_port_holder(port)}; stop it, or give this relay other"
                " addresses in relay.toml"
            ) from None


def _port_holder(port: int) -> str:
    """The process with a listening socket on `port`: /proc/net/tcp gives the socket's inode,
    /proc/PID/fd the process that has it open (only this user's processes are readable)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{inode}]")
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return describe(int(pid))
    return "another process"


def describe(pid: int) -> str:
    """'pid 1234 (relay --config /srv/relay.toml serve)'."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(w.decode(errors="replace") for w in words if w)
    except OSError:
        command = ""
    return f"pid {pid} ({command})" if command else f"pid {pid}"
