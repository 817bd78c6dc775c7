"""What every part of `relay serve` shares: settings, secret, keys, the store.

Light to import (the supervisor opens the store through here): the submission settings'
modules are imported by `settings_from`, which only workers call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from config import Config
from relay.errors import SetupError
from relay.keys import load_secret
from relay.private import check_private
from relay.store.db import POSTGRESQL_PREFIXES, Database, open_database

if TYPE_CHECKING:
    from relay.prepare.pipeline import Settings


def fallback_key_path(data_dir: Path) -> Path:
    return data_dir / "dkim" / "fallback.pem"


def tls_paths(config: Config) -> tuple[Path, Path]:
    cert = config.submission.tls_cert or str(config.data_dir / "tls" / "dev-cert.pem")
    key = config.submission.tls_key or str(config.data_dir / "tls" / "dev-key.pem")
    return config.path.parent / cert, config.path.parent / key


def settings_from(config: Config) -> Settings:
    from relay.prepare.identity import Fallback
    from relay.prepare.pipeline import Settings

    key_file = fallback_key_path(config.data_dir)
    if not key_file.exists():
        raise FileNotFoundError(f"{key_file} is missing: run `relay init`")
    return Settings(
        hostname=config.relay.hostname,
        public_url=config.http.public_url,
        bounce_domain=config.inbound.bounce_domain,
        secret=load_secret(config.data_dir),
        fallback=Fallback(
            address=config.fallback.address,
            dkim_domain=config.fallback.dkim_domain,
            dkim_selector=config.fallback.dkim_selector,
            key_pem=key_file.read_text(),
        ),
    )


def open_store(config: Config, name: str = "relay") -> Database:
    """The migrated database of `[store] url`, after checking that nobody else can read it
    or the keys, nor relay.toml when its store.url holds a password (SetupError says the
    chmod to run). `name`: how the connections introduce themselves to PostgreSQL."""
    db = open_database(config.store.url, config.path.parent, name=name)
    secrets = [*db.private_files()]
    if url_has_password(config.store.url):
        secrets.append(config.path)
    try:
        check_private(config, secrets)
    except SetupError:
        db.close()
        raise
    return db


def url_has_password(url: str) -> bool:
    """Whether a postgresql:// URL carries a password (then relay.toml is a secret too)."""
    if not url.startswith(POSTGRESQL_PREFIXES):
        return False
    from relay.store.postgres import has_password

    return has_password(url)
