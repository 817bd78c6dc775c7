"""What every part of `relay serve` shares: settings, secret, keys, the store."""

from pathlib import Path

from config import Config
from relay.keys import load_secret
from relay.prepare.identity import Fallback
from relay.prepare.pipeline import Settings
from relay.private import check_private
from relay.store.db import Database, open_database


def fallback_key_path(data_dir: Path) -> Path:
    return data_dir / "dkim" / "fallback.pem"


def tls_paths(config: Config) -> tuple[Path, Path]:
    cert = config.submission.tls_cert or str(config.data_dir / "tls" / "dev-cert.pem")
    key = config.submission.tls_key or str(config.data_dir / "tls" / "dev-key.pem")
    return config.path.parent / cert, config.path.parent / key


def settings_from(config: Config) -> Settings:
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


def open_store(config: Config) -> Database:
    """The migrated database of `[store] url`, after checking that nobody else can read it
    or the keys (SetupError says the chmod to run)."""
    db = open_database(config.store.url, config.path.parent)
    check_private(config, db.private_files())
    return db
