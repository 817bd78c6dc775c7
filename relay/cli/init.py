"""`relay init`: a working embedded default in one directory; safe to run twice."""

import secrets
from pathlib import Path

import click

from config import build_config, default_toml
from relay.errors import SetupError
from relay.keys import dev_certificate, new_dkim_key, public_key_b64, write_private
from relay.private import PRIVATE_DIR, key_files, make_private
from relay.runtime import fallback_key_path
from relay.store.db import open_database


@click.command()
@click.option(
    "--dir",
    "directory",
    default=".",
    type=click.Path(file_okay=False),
    help="Where to write relay.toml and the data directory (default: here).",
)
@click.option(
    "--relayhost",
    metavar="HOST:PORT",
    help="Write [delivery] relayhost: all mail goes through this server (e.g. `relay sink`).",
)
def init(directory: str, relayhost: str | None) -> None:
    """Write a commented relay.toml, keys, a dev certificate and the database."""
    base = Path(directory).resolve()
    base.mkdir(parents=True, exist_ok=True)
    config_file = base / "relay.toml"
    wrote = []
    if not config_file.exists():
        config_file.write_text(_with_relayhost(default_toml(), relayhost), encoding="utf-8")
        wrote.append(str(config_file))
    import tomllib

    config = build_config(tomllib.loads(config_file.read_text()), config_file)
    if relayhost and config.delivery.relayhost != relayhost:
        raise click.ClickException(
            f"{config_file} exists already with another relayhost: set"
            f' `relayhost = "{relayhost}"` under [delivery] there'
        )
    data = config.data_dir
    data.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if write_private(data / "secret.key", secrets.token_hex(32).encode()):
        wrote.append(str(data / "secret.key"))
    if write_private(fallback_key_path(data), new_dkim_key().encode()):
        wrote.append(str(fallback_key_path(data)))
    cert_path, key_path = data / "tls" / "dev-cert.pem", data / "tls" / "dev-key.pem"
    if not cert_path.exists():
        cert, key = dev_certificate(config.relay.hostname)
        write_private(key_path, key)
        cert_path.write_bytes(cert)
        wrote.append(str(cert_path))
    fresh_db = config.database_path is not None and not config.database_path.exists()
    try:
        db = open_database(config.store.url, config.path.parent, create=True)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None
    if fresh_db:
        wrote.append(str(config.database_path))
    secured = make_private([data], [*db.private_files(), *key_files(config)])
    db.close()
    for path in wrote:
        click.echo(f"wrote {path}")
    for path in secured:
        click.echo(f"made {path} readable by its owner only")
    if not wrote and not secured:
        click.echo(f"{config_file}: everything already in place, nothing changed")
    selector, domain = config.fallback.dkim_selector, config.fallback.dkim_domain
    pub = public_key_b64(fallback_key_path(data).read_text())
    click.echo(
        f"\nPublish the relay's own DKIM key:\n  {selector}._domainkey.{domain} TXT "
        f'"v=DKIM1; k=rsa; p={pub}"'
    )


def _with_relayhost(text: str, relayhost: str | None) -> str:
    """The default relay.toml with `relayhost` set (issue 14: the quick start's sink)."""
    if not relayhost:
        return text
    from relay.delivery.relayhost import parse_host_port
    from relay.errors import SetupError

    try:
        parse_host_port(relayhost)
    except SetupError as exc:
        raise click.BadParameter(str(exc), param_hint="--relayhost") from None
    line = 'relayhost = ""'
    assert line in text, "config/relay.toml lost its relayhost line"
    return text.replace(line, f'relayhost = "{relayhost}"', 1)


COMMANDS = [init]
