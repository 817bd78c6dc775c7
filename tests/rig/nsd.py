"""A real authoritative DNS server (NLnet Labs NSD) on 127.0.0.1:<free port>.

NSD runs in the foreground (`nsd -d`) as the calling user (root here) with
`username: ""` and `chroot: ""`, no database (`database: ""`), and every file
it writes (config, zones, pid, log, xfrd state) inside its work directory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.zone

from tests.rig.tools import (
    die_with_parent,
    free_port,
    port_open,
    tail,
    wait_until,
    which,
)

START_TIMEOUT = 10.0
RELOAD_TIMEOUT = 5.0
ZONE_DIR = Path(__file__).resolve().parent.parent / "dns"


def base_zones() -> dict[str, str]:
    """The shared test zones from tests/dns/*.zone, keyed by origin (file name)."""
    return {p.stem: p.read_text() for p in sorted(ZONE_DIR.glob("*.zone"))}


def _origin(name: str) -> str:
    return name.rstrip(".").lower()


def _soa_serial(origin: str, text: str) -> int:
    """Parse a zone (catching syntax errors early, in Python) and return its serial."""
    zone = dns.zone.from_text(text, origin=origin + ".", relativize=False, check_origin=True)
    soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)[0]
    assert isinstance(soa, dns.rdtypes.ANY.SOA.SOA)
    return int(soa.serial)


class NsdServer:
    """An NSD instance serving `zones` (origin -> zone file text) on 127.0.0.1."""

    def __init__(self, workdir: Path, zones: Mapping[str, str], port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self._zones: dict[str, str] = {_origin(o): t for o, t in zones.items()}
        self._serials: dict[str, int] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    # -- public --------------------------------------------------------------

    @property
    def nameserver(self) -> str:
        """The server as "127.0.0.1:PORT" (the relay's `delivery.nameservers` form)."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "nsd.log"

    @property
    def zones(self) -> dict[str, str]:
        return dict(self._zones)

    def start(self) -> NsdServer:
        nsd = which("nsd")
        if nsd is None:
            raise RuntimeError("nsd not installed: run .ci/deps (Debian package nsd)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for origin, text in self._zones.items():
            self._write_zone(origin, text)
        self._write_config()
        with open(self.workdir / "nsd.stderr", "wb") as stderr:
            self._proc = subprocess.Popen(
                [nsd, "-d", "-c", str(self._config_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        try:
            self._wait_serving(self._serials, START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)  # even when a test run is interrupted
        return self

    def stop(self) -> None:
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # NSD's helpers (xfrd, servers) are in the same session; make sure none outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def set_zone(self, origin: str, text: str) -> None:
        """Replace (or add) a zone and return once NSD serves it.

        A serial that does not go up is raised to the served serial + 1, so a
        test may reuse a zone text with small edits without counting serials.
        """
        origin = _origin(origin)
        old = self._serials.get(origin)
        serial = _soa_serial(origin, text)
        if old is not None and serial <= old:
            text = _with_serial(origin, text, old + 1)
        is_new = origin not in self._zones
        self._zones[origin] = text
        if self._proc is None:
            return
        self._write_zone(origin, text)
        if is_new:
            self._restart()
        else:
            self.reload()

    def remove_zone(self, origin: str) -> None:
        """Stop serving a zone (queries for it are then REFUSED)."""
        origin = _origin(origin)
        self._zones.pop(origin)
        self._serials.pop(origin, None)
        (self.workdir / f"{origin}.zone").unlink(missing_ok=True)
        if self._proc is not None:
            self._restart()

    def reload(self) -> None:
        """Make NSD re-read changed zone files (SIGHUP), and wait until they are served."""
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError(f"nsd is not running:\n{tail(self.log_path)}")
        self._proc.send_signal(signal.SIGHUP)
        try:
            self._wait_serving(self._serials, RELOAD_TIMEOUT)
        except TimeoutError:
            # A reload that did not take (should not happen): a restart always does.
            self._restart()

    def query(self, name: str, rdtype: str = "A", timeout: float = 2.0) -> dns.message.Message:
        """One UDP query to this server (falls back to TCP when truncated)."""
        request = dns.message.make_query(name, rdtype)
        response, _tcp = dns.query.udp_with_fallback(
            request, "127.0.0.1", port=self.port, timeout=timeout
        )
        return response

    def __enter__(self) -> NsdServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------

    @property
    def _config_path(self) -> Path:
        return self.workdir / "nsd.conf"

    def _restart(self) -> None:
        self.stop()
        self._write_config()
        self.start()

    def _write_zone(self, origin: str, text: str) -> None:
        self._serials[origin] = _soa_serial(origin, text)
        path = self.workdir / f"{origin}.zone"
        previous = path.stat().st_mtime_ns if path.exists() else 0
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text if text.endswith("\n") else text + "\n")
        # NSD reloads a zone file only when its mtime changed: make sure it did.
        mtime = max(time.time_ns(), previous + 1_000_000_000)
        os.utime(tmp, ns=(mtime, mtime))
        tmp.replace(path)

    def _write_config(self) -> None:
        w = self.workdir
        lines = [
            "server:",
            f"  ip-address: 127.0.0.1@{self.port}",
            f"  port: {self.port}",
            "  do-ip4: yes",
            "  do-ip6: no",
            '  username: ""',
            '  chroot: ""',
            '  database: ""',
            f'  zonesdir: "{w}"',
            f'  zonelistfile: "{w}/zone.list"',
            f'  xfrdfile: "{w}/xfrd.state"',
            f'  xfrdir: "{w}"',
            f'  pidfile: "{w}/nsd.pid"',
            f'  logfile: "{w}/nsd.log"',
            "  verbosity: 0",
            "  server-count: 1",
            "  hide-version: yes",
            "  hide-identity: yes",
            "  reuseport: no",
            "  zonefiles-check: yes",
            "remote-control:",
            "  control-enable: no",
        ]
        for origin in sorted(self._zones):
            lines += ["zone:", f'  name: "{origin}"', f'  zonefile: "{origin}.zone"']
        self._config_path.write_text("\n".join(lines) + "\n")

    def _wait_serving(self, serials: Mapping[str, int], timeout: float) -> None:
        """Wait until every zone answers SOA with the serial written last."""
        pending = dict(serials)

        def served() -> bool:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(
                    f"nsd exited (config {self._config_path}):\n"
                    f"{tail(self.workdir / 'nsd.stderr')}\n{tail(self.log_path)}"
                )
            if not port_open(self.port):
                return False  # not listening yet: a UDP probe would wait out its timeout
            for origin, serial in list(pending.items()):
                if self._served_serial(origin) == serial:
                    del pending[origin]
            return not pending

        try:
            wait_until(served, timeout, f"nsd on {self.nameserver} to serve {sorted(pending)}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{tail(self.log_path)}") from None

    def _served_serial(self, origin: str) -> int | None:
        try:
            response = self.query(origin + ".", "SOA", timeout=0.3)
        except (dns.exception.DNSException, OSError):
            return None
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return int(rrset[0].serial)
        return None


def _with_serial(origin: str, text: str, serial: int) -> str:
    """The zone text re-rendered by dnspython with a new SOA serial."""
    zone = dns.zone.from_text(text, origin=origin + ".", relativize=False, check_origin=True)
    rdataset = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
    soa = rdataset[0]
    rdataset.clear()
    rdataset.add(soa.replace(serial=serial))
    return f"$ORIGIN {origin}.\n" + zone.to_text(relativize=False)


@contextlib.contextmanager
def silent_nameserver() -> Iterator[str]:
    """A "name server" on 127.0.0.1 that never answers, over UDP or TCP.

    UDP queries are read by nobody; TCP connections complete the handshake
    (kernel backlog) but never get a byte back. Yields "127.0.0.1:PORT".
    """
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            tcp.bind(("127.0.0.1", port))
            tcp.listen(64)
        except OSError:
            udp.close()
            tcp.close()
            continue
        try:
            yield f"127.0.0.1:{port}"
        finally:
            udp.close()
            tcp.close()
        return
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")
