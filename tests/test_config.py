"""relay.toml errors name the key; `relay init` writes a working set-up and is idempotent."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, build_config, load_config, parse_duration, parse_schedule
from tests.rig.tools import free_port

RELAY = [sys.executable, "-m", "relay"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[delivery]\nretry_schedule = '5m, 10m, 5x'\n",
            "delivery.retry_schedule[2]: '5x' is not a duration",
        ),
        ("[delivery]\nmax_age = 5\n", "delivery.max_age: 5 is not a duration"),
        ("[delivery]\nsmtp_port = true\n", "delivery.smtp_port: True is not an integer"),
        ("[delivery]\nsmpt_port = 25\n", "delivery.smpt_port: unknown key"),
        ("[relais]\n", "unknown section [relais]"),
        ("[submission]\nlisten = ['localhost']\n", "submission.listen[0]: 'localhost' is not"),
        (
            "[submission]\nmax_message_size = '25 parsecs'\n",
            "submission.max_message_size: '25 parsecs' is not a size",
        ),
        ("[relay\n", "not valid TOML"),
        (
            "[store]\nurl = 'mysql://relay@db'\n",
            "store.url: 'mysql://relay@db' is not a database URL",
        ),
        ("[store]\nlease = '0s'\n", "store.lease: '0s' must be longer than 0s"),
        ("[store]\nnode = 'a/b'\n", "store.node: 'a/b' is not a node name"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)
    done = subprocess.run(
        [*RELAY, "--config", str(path), "status"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and message.split(":")[0] in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[relay]\nworkers = -3\n", "relay.workers: -3 is out of range (0 to 64"),
        ("[relay]\nworkers = 100\n", "relay.workers: 100 is out of range (0 to 64"),
        (
            "[delivery]\nsmtp_port = 99999\n",
            "delivery.smtp_port: 99999 is out of range (1 to 65535",
        ),
        ("[delivery]\nsmtp_port = 0\n", "delivery.smtp_port: 0 is out of range"),
        ("[submission]\nmax_sessions = 0\n", "submission.max_sessions: 0 is out of range"),
        (
            "[submission]\nmax_message_size = '0KB'\n",
            "submission.max_message_size: '0KB' is out of range ('1KB' to '512MB')",
        ),
        ("[inbound]\nmax_message_size = '2GB'\n", "inbound.max_message_size: '2GB' is out"),
        ("[delivery]\nconnect_timeout = '0s'\n", "delivery.connect_timeout: '0s' is out of range"),
        ("[delivery]\nmax_connections = 0\n", "delivery.max_connections: 0 is out of range"),
        ("[delivery]\nretry_schedule = '5m, 0s'\n", "delivery.retry_schedule[1]: '0s' must be"),
        (
            "[dns]\nrecheck_every = '5s'\n",
            "dns.recheck_every: '5s' is out of range (at least '1m')",
        ),
        ("[submission]\nauth_timeout = '0s'\n", "submission.auth_timeout: '0s' is out of range"),
        ("[submission]\nsigning_workers = -1\n", "submission.signing_workers: -1 is out of range"),
        (
            "[submission]\nmax_sessions = 10\nmax_unauthenticated = 10\n",
            "submission.max_unauthenticated: 10 must be below submission.max_sessions (10)",
        ),
        (
            "[submission]\nlisten = []\nlisten_tls = []\n",
            "submission.listen and submission.listen_tls are both empty",
        ),
        ("[http]\npublic_url = 'relay.example.net'\n", "http.public_url: 'relay.example.net' is"),
        (
            "[relay]\nevent_loop = 'trio'\n",
            "relay.event_loop: 'trio' is not one of uvloop, asyncio",
        ),
    ],
)
def test_values_that_leave_a_useless_relay_are_refused(
    tmp_path: Path, toml: str, message: str
) -> None:
    """Issue 9 item 12: `workers = -3` used to log "relay ready (-3 workers)" and listen on
    nothing; out-of-range values now stop every command with the key named."""
    path = tmp_path / "relay.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)
    done = subprocess.run(
        [*RELAY, "--config", str(path), "serve"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_shipped_relay_toml_is_the_embedded_default_and_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    shipped = (root / "relay.toml").read_text()
    assert shipped == (root / "config" / "relay.toml").read_text()
    config = load_config(root / "relay.toml")
    assert config.unauthenticated_limit == config.submission.max_sessions // 2


def test_durations_and_schedules() -> None:
    assert parse_duration("1h20m") == 4800 and parse_duration("90s") == 90
    assert parse_schedule("5m, 4h*3") == (300, 14400, 14400, 14400)
    defaults = build_config({}, Path("/nonexistent/relay.toml"))
    assert defaults.delivery.max_age == 5 * 86400
    assert defaults.submission.max_message_size == 25_000_000


def test_missing_config_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [*RELAY, "status"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "relay init" in done.stderr


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "-wal" not in p.name and "-shm" not in p.name
    }


def test_init_twice_changes_nothing(tmp_path: Path) -> None:
    first = subprocess.run(
        [*RELAY, "init", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    before = _snapshot(tmp_path)
    assert {
        "relay.toml",
        "var/secret.key",
        "var/dkim/fallback.pem",
        "var/tls/dev-cert.pem",
        "var/tls/dev-key.pem",
        "var/relay.db",
    } <= set(before)
    second = subprocess.run(
        [*RELAY, "init", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0 and "nothing changed" in second.stdout
    assert _snapshot(tmp_path) == before
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[delivery]\nretry_schedule = '5m*²'\n",
            "delivery.retry_schedule[0]: '5m*²' repeat count",
        ),
        ("[submission]\nlisten = ['127.0.0.1:²']\n", "submission.listen[0]: '127.0.0.1:²' is not"),
        ("[http]\nlisten = '127.0.0.1:⁸⁰'\n", "http.listen: '127.0.0.1:⁸⁰' is not a host:port"),
    ],
)
def test_non_ascii_digits_are_a_config_error(tmp_path: Path, toml: str, message: str) -> None:
    # '²'.isdigit() is True but int('²') raises: the error must still name the key.
    path = tmp_path / "relay.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_store_url_is_relative_to_the_config_file_and_data_dir_without_it(tmp_path: Path) -> None:
    config = build_config({"store": {"url": "sqlite:///db/relay.db"}}, tmp_path / "relay.toml")
    assert config.database_path == tmp_path / "db" / "relay.db"
    assert config.store.lease == 300 and config.store.retention == 90 * 86400
    assert config.store.node == ""
    # A relay.toml from before [store]: the database stays where it was, in data_dir.
    older = build_config({"relay": {"data_dir": "/srv/relay"}}, tmp_path / "relay.toml")
    assert older.database_path == Path("/srv/relay/relay.db")
    absolute = build_config({"store": {"url": "sqlite:////srv/x.db"}}, tmp_path / "relay.toml")
    assert absolute.database_path == Path("/srv/x.db")


def test_a_postgresql_server_that_is_not_there_is_named_without_its_password(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    path = tmp_path / "relay.toml"
    path.write_text(f"[store]\nurl = 'postgresql://relay:s3cret@127.0.0.1:{port}/relay'\n")
    path.chmod(0o600)  # a URL with a password makes relay.toml a secret
    assert load_config(path).database_path is None
    for command in (["status"], ["serve"]):
        done = subprocess.run(
            [*RELAY, "--config", str(path), *command], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1
        url = f"postgresql://relay:***@127.0.0.1:{port}/relay"
        assert f"cannot connect to the database {url}" in done.stderr, done.stderr
        assert "check store.url in relay.toml" in done.stderr, done.stderr
        assert "s3cret" not in done.stderr
        assert "Traceback" not in done.stderr
