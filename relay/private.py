"""Files only the relay's own user may read (issue 9): the database (every shop's DKIM key,
password hashes, all bodies), its WAL and shared-memory files, the DKIM keys, the HMAC secret
and the dev TLS key. `relay init` makes them so; `relay serve` refuses to start otherwise.

Light on purpose: the supervisor of `relay serve` imports it.
"""

import shlex
import stat
from collections.abc import Iterable
from pathlib import Path

from config import Config
from relay.errors import SetupError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def key_files(config: Config) -> list[Path]:
    """The secret, the DKIM keys and the dev TLS key of the data directory, those that exist."""
    data = config.data_dir
    found = [data / "secret.key", *sorted((data / "dkim").glob("*.pem"))]
    found.append(data / "tls" / "dev-key.pem")
    return [p for p in found if p.is_file()]


def readable_by_others(paths: Iterable[Path]) -> list[Path]:
    """Those of `paths` that a group or other users may read, write or run."""
    return [p for p in paths if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077]


def check_private(config: Config, database_files: Iterable[Path]) -> None:
    """Refuse to run on a key store other users can read; say the chmod that fixes it."""
    exposed = readable_by_others([*database_files, *key_files(config)])
    if not exposed:
        return
    modes = ", ".join(f"{p} ({stat.filemode(p.stat().st_mode)})" for p in exposed)
    command = "chmod 600 " + " ".join(shlex.quote(str(p)) for p in exposed)
    raise SetupError(
        f"other users can read files that hold shops' DKIM keys, password hashes or the "
        f"relay's secret: {modes}. Run: {command} (and chmod 700 "
        f"{shlex.quote(str(config.data_dir))}), then start again"
    )


def make_private(directories: Iterable[Path], files: Iterable[Path]) -> list[Path]:
    """chmod what exists to owner-only (`relay init`); returns what it changed."""
    changed = []
    for path, mode in [
        *((d, PRIVATE_DIR) for d in directories),
        *((f, PRIVATE_FILE) for f in files),
    ]:
        if path.exists() and stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
            changed.append(path)
    return changed
