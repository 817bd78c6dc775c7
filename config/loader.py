"""Load relay.toml over the embedded defaults and check every key.

Errors name the exact key: `delivery.retry_schedule[2]: '5x' is not a duration`.
"""

import ipaddress
import re
import tomllib
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from config.durations import ValueFormatError, parse_duration, parse_schedule, parse_size
from config.schema import SECTIONS, SQLITE_URL, Config

EVENT_LOOPS = ("uvloop", "asyncio")


class ConfigError(Exception):
    """relay.toml is missing or wrong; the message says which key and what to write."""


def default_toml() -> str:
    """The commented relay.toml that `relay init` writes; also the embedded defaults."""
    return resources.files("config").joinpath("relay.toml").read_text(encoding="utf-8")


def load_config(path: Path) -> Config:
    path = path.resolve()
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such file. Run `relay init` here, or pass --config PATH "
            "(or set RELAY_CONFIG)."
        )
    try:
        user = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return build_config(user, path)


def build_config(user: dict[str, Any], path: Path) -> Config:
    defaults = tomllib.loads(default_toml())
    unknown = sorted(set(user) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]; known: {', '.join(SECTIONS)}")
    sections = {}
    for name, cls in SECTIONS.items():
        given = user.get(name, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{path}: {name} must be a table ([{name}])")
        sections[name] = _build_section(name, cls, defaults[name], given, path.parent)
    if "url" not in user.get("store", {}):
        # A relay.toml from before [store] kept its database in data_dir: find it there (with
        # the default data_dir that is the default url, sqlite:///var/relay.db).
        url = SQLITE_URL + str(sections["relay"].data_dir / "relay.db")
        sections["store"] = replace(sections["store"], url=url)
    config = Config(**sections, path=path)
    _check_together(config)
    return config


def _build_section(name: str, cls: type, defaults: dict, given: dict, base: Path) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}: unknown key; known keys: {', '.join(known)}")
    values = {}
    for key, spec in known.items():
        raw = given.get(key, defaults[key])
        try:
            values[key] = _convert(spec.metadata["kind"], raw, base)
            _check_range(spec.metadata, raw, values[key])
        except ValueFormatError as exc:
            detail = str(exc)
            sep = "" if detail.startswith("[") else ": "
            raise ConfigError(f"{name}.{key}{sep}{detail}") from None
    return cls(**values)


def _check_range(metadata: dict[str, Any], raw: Any, value: Any) -> None:
    bounds = metadata.get("range")
    if bounds is None:
        return
    low, high, why = bounds
    if (low is None or value >= low) and (high is None or value <= high):
        return
    show = _SHOW[metadata["kind"]]
    if high is None:
        allowed = f"at least {show(low)}"
    elif low is None:
        allowed = f"at most {show(high)}"
    else:
        allowed = f"{show(low)} to {show(high)}"
    raise ValueFormatError(f"{raw!r} is out of range ({allowed}{'; ' + why if why else ''})")


def _show_size(size: float) -> str:
    for unit, factor in (("MB", 1000**2), ("KB", 1000)):
        if size >= factor and size % factor == 0:
            return f"'{int(size // factor)}{unit}'"
    return f"{int(size)}"


def _show_duration(seconds: float) -> str:
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= factor and seconds % factor == 0:
            return f"'{int(seconds // factor)}{unit}'"
    return f"'{int(seconds * 1000)}ms'"


_SHOW = {"int": str, "size": _show_size, "duration": _show_duration}


def _check_together(config: Config) -> None:
    """Keys that are fine alone but leave a useless relay together (named like the others)."""
    if config.relay.event_loop not in EVENT_LOOPS:
        raise ConfigError(
            f"relay.event_loop: {config.relay.event_loop!r} is not one of {', '.join(EVENT_LOOPS)}"
        )
    sub = config.submission
    if not sub.listen and not sub.listen_tls:
        raise ConfigError(
            "submission.listen and submission.listen_tls are both empty: shops could not submit;"
            " give at least one address"
        )
    if sub.max_unauthenticated >= sub.max_sessions:
        raise ConfigError(
            f"submission.max_unauthenticated: {sub.max_unauthenticated} must be below"
            f" submission.max_sessions ({sub.max_sessions}): the difference is the room kept for"
            " authenticated shops (0: half of max_sessions)"
        )
    if not re.match(r"https?://[^/\s]+", config.http.public_url):
        raise ConfigError(
            f"http.public_url: {config.http.public_url!r} is not an http:// or https:// URL;"
            " the unsubscribe links in messages start with it"
        )


def _convert(kind: str, raw: Any, base: Path) -> Any:
    converter = _CONVERTERS[kind]
    return converter(raw, base)


def _expect(raw: Any, types: type | tuple[type, ...], what: str) -> Any:
    # bool is an int in Python; a TOML `true` must not pass for a port number.
    if isinstance(raw, bool) and types is not bool:
        raise ValueFormatError(f"{raw!r} is not {what}")
    if not isinstance(raw, types):
        raise ValueFormatError(f"{raw!r} is not {what}")
    return raw


def _address(raw: Any, _base: Path) -> str:
    text = _expect(raw, str, "a host:port address")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not re.fullmatch(r"[0-9]+", port) or not 0 < int(port) < 65536:
        raise ValueFormatError(f"{text!r} is not a host:port address (e.g. '127.0.0.1:2587')")
    return text


def _addresses(raw: Any, base: Path) -> tuple[str, ...]:
    items = _expect(raw, list, "a list of host:port addresses")
    out = []
    for index, item in enumerate(items):
        try:
            out.append(_address(item, base))
        except ValueFormatError as exc:
            raise ValueFormatError(f"[{index}]: {exc}") from None
    return tuple(out)


def _strings(raw: Any, _base: Path) -> tuple[str, ...]:
    items = _expect(raw, list, "a list of strings")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ValueFormatError(f"[{index}]: {item!r} is not a string")
    return tuple(items)


def _networks(raw: Any, base: Path) -> tuple[str, ...]:
    """IP networks in CIDR form ('10.0.0.0/8', '2001:db8::/32'; an address alone is one host)."""
    out = []
    for index, item in enumerate(_strings(raw, base)):
        try:
            out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise ValueFormatError(
                f"[{index}]: {item!r} is not an IP network (e.g. '10.0.0.0/8' or '192.0.2.7')"
            ) from None
    return tuple(out)


def _duration(raw: Any, _base: Path) -> float:
    return parse_duration(_expect(raw, str, "a duration such as '5m'"))


def _schedule(raw: Any, _base: Path) -> tuple[float, ...]:
    text = _expect(raw, str, "a schedule such as '5m, 10m, 4h*30'")
    delays = parse_schedule(text)
    for index, item in enumerate(text.split(",")):
        # A zero wait would retry a deferred recipient in a tight loop.
        if parse_duration(item.partition("*")[0]) <= 0:
            raise ValueFormatError(f"[{index}]: {item.strip()!r} must be longer than 0s")
    return delays


def _size(raw: Any, _base: Path) -> int:
    return parse_size(_expect(raw, (str, int), "a size such as '25MB'"))


def _positive_duration(raw: Any, base: Path) -> float:
    seconds = _duration(raw, base)
    if seconds <= 0:
        raise ValueFormatError(f"{raw!r} must be longer than 0s")
    return seconds


def _store_url(raw: Any, _base: Path) -> str:
    text = _expect(raw, str, "a database URL")
    scheme = text.partition("://")[0]
    if text.startswith(SQLITE_URL) and len(text) > len(SQLITE_URL):
        return text
    if scheme in ("postgresql", "postgres") and text.partition("://")[2]:
        return text
    raise ValueFormatError(
        f"{text!r} is not a database URL (e.g. 'sqlite:///var/relay.db', relative to this "
        "file, or 'postgresql://relay@db.example.net/relay')"
    )


def _node(raw: Any, _base: Path) -> str:
    text = _expect(raw, str, "a node name")
    if text and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", text):
        raise ValueFormatError(
            f"{text!r} is not a node name (letters, digits, '.', '-', '_'; at most 63)"
        )
    return text


def _path(raw: Any, base: Path) -> Path:
    return (base / _expect(raw, str, "a path")).resolve()


_CONVERTERS = {
    "str": lambda raw, _b: _expect(raw, str, "a string"),
    "int": lambda raw, _b: _expect(raw, int, "an integer"),
    "bool": lambda raw, _b: _expect(raw, bool, "true or false"),
    "path": _path,
    "address": _address,
    "addresses": _addresses,
    "list": _strings,
    "duration": _duration,
    "positive_duration": _positive_duration,
    "store_url": _store_url,
    "networks": _networks,
    "node": _node,
    "schedule": _schedule,
    "size": _size,
}
