"""relay.toml -> frozen dataclasses. A leaf: imports nothing of ours but itself."""

from config.durations import parse_duration, parse_schedule, parse_size
from config.loader import ConfigError, build_config, default_toml, load_config
from config.schema import Config

__all__ = [
    "Config",
    "ConfigError",
    "build_config",
    "default_toml",
    "load_config",
    "parse_duration",
    "parse_schedule",
    "parse_size",
]
